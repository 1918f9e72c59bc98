mod corpus;
mod graph_props;
mod local;
mod ssh;
mod support;
mod dry_run;
mod run_safety;
mod cli;
