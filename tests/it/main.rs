mod corpus;
mod graph_props;
mod local;
mod ssh;
mod support;
