use clap::Parser;

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
