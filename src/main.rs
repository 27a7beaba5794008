//! The `claudewatch` binary: parses the command line and hands over to the library.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use claudewatch::Config;
use claudewatch::cli::{Cli, Command, RunArgs};
use claudewatch::config::{Diagnostic, Env};
use claudewatch::error::describe;
use claudewatch::telemetry::logging;

/// Exit code for an invalid config (as `check-config` documents).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => run(cli.run),
        Some(Command::Run(args)) => run(args),
        Some(Command::CheckConfig { file }) => check_config(&file),
        Some(Command::Simulate(args)) => simulate(args),
        Some(Command::Healthcheck { addr }) => match claudewatch::healthcheck::check(addr, Duration::from_secs(3)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("claudewatch healthcheck: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn print_diagnostics(diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        eprintln!("{d}");
    }
}

fn check_config(file: &std::path::Path) -> ExitCode {
    match Config::load(file) {
        Ok((config, warnings)) => {
            print_diagnostics(&warnings);
            print!("{}", config.to_toml());
            ExitCode::SUCCESS
        }
        Err(diagnostics) => {
            print_diagnostics(&diagnostics);
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            eprintln!("{}: {errors} error(s)", file.display());
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// Runs `main` on a fresh runtime, then stops the runtime without waiting on stragglers:
/// dropping a runtime waits for its blocking tasks without limit, and a DNS lookup stuck in a
/// hung resolver would otherwise hold the exit past the 5 s a supervisor grants.
fn block_on(main: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("cannot start the tokio runtime");
    let code = runtime.block_on(main);
    runtime.shutdown_timeout(Duration::from_millis(500));
    code
}

fn run(args: RunArgs) -> ExitCode {
    logging::init(args.log.log_format, args.log.log_level.as_deref());
    let (mut config, warnings) = match &args.config {
        Some(path) => match Config::load(path) {
            Ok(loaded) => loaded,
            Err(diagnostics) => {
                print_diagnostics(&diagnostics);
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        None => {
            tracing::info!("no --config given; using the built-in default config");
            Config::builtin()
        }
    };
    for w in &warnings {
        tracing::warn!("{w}");
    }
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }

    block_on(async move {
        let listener = match tokio::net::TcpListener::bind(config.server.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("claudewatch: cannot listen on {}: {e}", config.server.listen);
                return ExitCode::FAILURE;
            }
        };
        let shutdown = claudewatch::shutdown::on_signal();
        match claudewatch::run(config, Env::process(), listener, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("claudewatch: {}", describe(&e));
                ExitCode::FAILURE
            }
        }
    })
}

/// The environment variable that, when set, makes the simulator accept only that API key.
const SIM_API_KEY_ENV: &str = "CLAUDEWATCH_SIM_API_KEY";

fn simulate(args: claudewatch::cli::SimulateArgs) -> ExitCode {
    use claudewatch::sim::{Scenario, Simulator};
    logging::init(args.log.log_format, args.log.log_level.as_deref());
    let scenario = match Scenario::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("claudewatch simulate: {}", describe(&e));
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let mut sim = Simulator::new(scenario.clone()).time_scale(args.time_scale);
    if let Some(seed) = args.seed {
        sim = sim.seed(seed);
    }
    let key_required = match std::env::var(SIM_API_KEY_ENV) {
        Ok(key) if !key.is_empty() => {
            sim = sim.api_key(key);
            true
        }
        _ => false,
    };
    block_on(async move {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("claudewatch simulate: cannot listen on {}: {e}", args.listen);
                return ExitCode::FAILURE;
            }
        };
        let addr = listener.local_addr().unwrap_or(args.listen);
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "the simulator listens beyond loopback: anyone who can reach it can script its faults");
        }
        let length = scenario.length().mul_f64(1.0 / args.time_scale);
        tracing::info!(
            %addr,
            scenario = %scenario.name,
            phases = scenario.phases.len(),
            length = %humantime::format_duration(Duration::from_secs(length.as_secs())),
            time_scale = args.time_scale,
            api_key = if key_required { "one key (from CLAUDEWATCH_SIM_API_KEY)" } else { "any non-empty key" },
            "simulator listening"
        );
        // The address on stdout, so a script that passed port 0 can read it.
        println!("http://{addr}");
        sim.serve(listener, claudewatch::shutdown::on_signal()).await;
        tracing::info!("simulator stopped");
        ExitCode::SUCCESS
    })
}
