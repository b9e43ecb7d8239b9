//! The command line of the `usagedesk-cloud` binary (the `cli` feature): its argument types and
//! the subcommands that need more than the library (the demo generator). The library the app
//! and the tests embed links none of this.

pub mod db;
pub mod demo_data;
pub mod serve_args;
pub mod token_cmd;
