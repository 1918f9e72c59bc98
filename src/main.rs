fn main() {
    std::process::exit(phoenix::app::run(std::env::args().collect()));
}
