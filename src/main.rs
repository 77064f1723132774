use clap::Parser;

/// mimalloc rather than glibc's malloc: a screening allocates and frees on several
/// threads (request workers, the writer), and glibc kept what they freed in per-thread
/// arenas, so resident memory grew with every screening; with mimalloc it levels off
/// (bench/RESULTS.md, issue 30, session 14). Built with `no_thp` (no huge pages asked
/// for its arenas: an idle renkei stays near 28 MB, not 47). The library and its tests
/// keep the system's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    renkei::crypto::install_tls_provider();
    let cli = renkei::cli::Cli::parse();
    match renkei::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("renkei: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
