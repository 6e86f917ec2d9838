//! # sfbkit — a headless Skype for Business / Lync client SDK
//!
//! sfbkit signs a user in to Skype for Business Server or Lync the way the Microsoft client does and
//! keeps that endpoint alive. Where to start reading:
//!
//! - [`Client`] / [`ClientBuilder`]: the one facade applications use (`sign_in`, events).
//! - [`SignInReport`]: what happened during sign-in, stage by stage (Test-CsRegistration style).
//! - [`sip`]: the SIP wire layer, sans-I/O: [`sip::Message`], the streaming [`sip::StreamParser`],
//!   the serializer, URIs and name-addr values, and hard [`sip::Limits`] on everything a peer sends.
//! - [`sip::transaction`]: non-INVITE client transactions and server transactions (sans-I/O).
//! - [`identity`]: the endpoint identity: epid and the `+sip.instance` derived from it ([MS-SIPRE] 3.2.3).
//! - [`transport`]: SIP over TLS on tokio + rustls (the only module here that does I/O besides the facade).
//! - [`registration`]: building REGISTER and reading the registrar's 200 OK ([MS-SIPREGE]).
//! - [`trust`]: where credentials may go (the SIP domain, trusted domains, verified TLS only).
//!
//! Data flows one way: discovery → connect → authenticate → register → provision → subscribe/publish.

pub mod auth;
pub mod civil;
mod client;
mod connectivity;
pub mod contacts;
pub mod dialplan;
pub mod discovery;
mod driver;
pub mod endpoint;
pub mod events;
pub mod fleet;
/// Crate-private readers for the fuzz targets in `fuzz/` (only under `--cfg fuzzing`; not API).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod identity;
pub mod keystore;
pub mod local;
pub mod presence;
pub mod provisioning;
pub mod registration;
mod report;
mod session;
mod shared;
mod signin;
pub mod sip;
pub mod trace;
pub mod transport;
pub mod trust;
pub mod xml;

pub use client::{Client, ClientBuilder, ClientError, EVENT_BUFFER, EventStream, ServerTarget};
pub use driver::ReconnectPolicy;
pub use endpoint::{Command, CommandError, CommandOutput};
pub use events::{DeregistrationReason, Event};
pub use fleet::{Fleet, FleetCounters, FleetOptions, FleetStats};
pub use report::{Outcome, REPORT_SCHEMA, SignInReport, SignInResult, Stage, StepRecord};
pub use session::SessionError;
pub use shared::SharedResources;
