//! The one integration-test binary: every end-to-end, process-level and property test of
//! Tribune, one module per area (see tests/README.md). One binary links the whole stack once.

mod support;

mod alerts;
mod architecture;
mod at_rest;
mod backup;
mod bad_input;
mod cli_promises;
mod conflict;
mod content;
mod crash;
mod damaged_store;
mod deep_links;
mod delivery_errors;
mod demo;
mod deploy;
mod disk_full;
mod doctor;
mod export;
mod fanout;
mod fault_campaign;
mod flood;
mod groups_and_channels;
mod helpers;
mod hostile_input;
mod html_injection;
mod metrics;
mod operator_jobs;
mod operators;
mod pacing;
mod prisoners;
mod privacy_promises;
mod reader_promises;
mod reading;
mod retention;
mod secrets;
mod sharing;
mod stats;
mod subscriptions;
mod telegram_faults;
mod update_kinds;
mod use_cases;
mod webhook;
mod webhook_limits;
mod write_failure;
