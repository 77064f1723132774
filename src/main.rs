use clap::Parser;

/// mimalloc rather than glibc's malloc: a screening allocates and frees on several
/// threads (request workers, the writer), and glibc's allocator took a quarter of its CPU
/// (bench/RESULTS.md, issue 30, session 14: mimalloc about 10 % less CPU per screening
/// on both databases). The library and its tests keep the system's allocator.
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
