//! `labelplan`: the selection engine on the command line. Same readers, same engine and
//! same exports as the web app. Errors go to stderr as one sentence, exit code 1 (2 for
//! bad usage, from clap); bad input never panics.

// A command-line tool: printing is its job.
#![allow(clippy::print_stdout)]

mod args;
mod plan;

use std::process::ExitCode;

use clap::Parser;
use labelplan_core::plan::Method;

use args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Methods => {
            for m in Method::ALL {
                println!("{:18} {}", m.name(), m.explain());
            }
            Ok(())
        }
        Command::Plan(args) => plan::run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
