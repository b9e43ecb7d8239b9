//! Customer reporting (seed `001`): the rules of licenses, instance reports, events and
//! install attempts shared by the loader and the API ([`rules`]), and the instances' signed
//! check-ins ([`check_in`], `docs/agent.md` "Check-ins").
//!
//! Nothing here reads the clock: time is an argument.

pub mod check_in;
pub mod rules;
