use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = renkei::cli::Cli::parse();
    match renkei::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("renkei: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
