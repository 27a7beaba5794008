//! The command line. These spellings are a contract: deployment files and checks rely on them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::telemetry::logging::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "claudewatch",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("CLAUDEWATCH_REVISION"), ")"),
    about = "Watches the Claude API (status page, synthetic probes, app retries) and exports Prometheus metrics",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Running the daemon is the default command.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (the default when no command is given).
    Run(RunArgs),
    /// Validate a config file and print the effective config; exit 2 on errors.
    CheckConfig {
        /// The config file to check.
        file: PathBuf,
    },
    /// Serve the simulator of the Claude API and of a status page on loopback.
    Simulate(SimulateArgs),
    /// GET /healthz of a running daemon; exit 0 when healthy (for container health checks).
    Healthcheck {
        /// Address of the daemon.
        #[arg(long, default_value = "127.0.0.1:9464")]
        addr: SocketAddr,
    },
}

#[derive(Debug, Clone, Args, Default)]
pub struct RunArgs {
    /// Config file (TOML). Without it the built-in default config serves.
    #[arg(long, value_name = "FILE", env = "CLAUDEWATCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Listen address, overriding `[server] listen`.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Clone, Args, Default)]
pub struct LogArgs {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log level or filter (e.g. `debug`, `claudewatch=debug,info`); defaults to RUST_LOG, then info.
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// Listen address; loopback only unless you mean it.
    #[arg(long, default_value = "127.0.0.1:8089")]
    pub listen: SocketAddr,
    /// A built-in scenario name (`healthy`, `econnreset-wave`, …) or a scenario TOML file.
    #[arg(long, default_value = "healthy")]
    pub scenario: String,
    /// Scenario seconds per real second: 20 plays a 10-minute scenario in 30 s.
    #[arg(long, default_value_t = 1.0, value_parser = parse_time_scale)]
    pub time_scale: f64,
    /// Seed for the random draws (reproducible runs).
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub log: LogArgs,
}

fn parse_time_scale(s: &str) -> Result<f64, String> {
    let range = crate::sim::TIME_SCALE_RANGE;
    match s.parse::<f64>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a number from {} to {}", range.start(), range.end())),
    }
}
