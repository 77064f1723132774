use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// One thread for the main runtime: the request workers are actix's own threads; here run
// the screening writers and the background jobs, which a pool of threads waking each
// other to steal work only made more expensive.
#[tokio::main(flavor = "current_thread")]
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
