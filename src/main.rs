use std::io::Write;

fn main() {
    let code = match phoenix::cli::utf8_args(std::env::args_os()) {
        Ok(argv) => phoenix::app::run(argv),
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "error: {message}");
            phoenix::cli::EXIT_INVALID
        }
    };
    std::process::exit(code);
}
