//! A presence bot, the way people write them against Skype for Business: it signs in, watches its
//! contacts, and reacts. Here the bot (alice) answers every note a contact publishes by publishing
//! one of its own, and shows Busy while anyone on its list is Busy.
//!
//! It runs against the embedded lab pool, so it needs nothing but this repository:
//!
//!     cargo run -p sfbkit-examples --bin presence_bot -- [SECONDS]
//!
//! A second endpoint (bob) is driven from here too, so there is something to react to. Against a
//! real pool, build the client with `ClientBuilder::new("sip:bot@contoso.com").credentials(...)`
//! instead of `pool.client_builder(...)`; the rest is the same.

use std::time::Duration;

use sfbkit::presence::Availability;
use sfbkit::{Client, Event};
use sfbkit_lab::{LabConfig, LabPool};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(6);
    let pool = LabPool::start(LabConfig::default()).await?;

    let bot = pool.client_builder("sip:alice@contoso.lab").build()?;
    let report = bot.sign_in().await;
    if !report.is_success() {
        eprintln!("{}", report.to_text());
        return Err("the bot could not sign in".into());
    }
    println!("bot signed in to {} in {:.1} ms", report.target, report.latency_ms);

    // Somebody to watch: bob changes his status and note a few times.
    let bob = pool.client_builder("sip:bob@contoso.lab").build()?;
    if !bob.sign_in().await.is_success() {
        return Err("bob could not sign in".into());
    }
    let script = tokio::spawn(async move {
        let steps = [
            (Availability::Busy, "In a meeting until 3"),
            (Availability::Available, "Back at my desk"),
            (Availability::Away, "Lunch"),
        ];
        for (availability, note) in steps {
            tokio::time::sleep(Duration::from_millis(700)).await;
            let _ = bob.set_presence(availability, None).await;
            let _ = bob.set_note(Some(note)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = bob.sign_out().await;
    });

    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut reactions = 0;
    while let Ok(event) = tokio::time::timeout_at(deadline, bot.next_event()).await {
        reactions += react(&bot, event).await;
    }
    let _ = script.await;
    bot.sign_out().await?;
    println!("bot signed out after {reactions} reactions");
    Ok(())
}

/// What the bot does with one event; returns how many publications it made.
async fn react(bot: &Client, event: Event) -> u32 {
    match event {
        Event::ContactAdded { contact } => {
            println!("watching {} ({})", contact.uri, contact.name);
            0
        }
        Event::PresenceChanged { presence } => {
            let availability = presence.availability.map(|a| format!("{a:?}")).unwrap_or_else(|| "unknown".into());
            println!("{} is {availability}", presence.uri);
            // Busy while anyone on the list is busy, available otherwise.
            let contacts = bot.contacts().contacts;
            let anyone_busy = contacts
                .iter()
                .filter_map(|c| bot.presence_of(&c.uri))
                .any(|p| matches!(p.availability, Some(Availability::Busy | Availability::DoNotDisturb)));
            let mine = if anyone_busy { Availability::Busy } else { Availability::Available };
            match bot.set_presence(mine, None).await {
                Ok(()) => 1,
                Err(e) => {
                    eprintln!("could not publish: {e}");
                    0
                }
            }
        }
        Event::NoteChanged { uri, note: Some(note) } => {
            println!("{uri} says: {note}");
            let reply = format!("Noted, {}: \"{note}\"", uri.trim_start_matches("sip:"));
            match bot.set_note(Some(&reply)).await {
                Ok(()) => 1,
                Err(e) => {
                    eprintln!("could not publish: {e}");
                    0
                }
            }
        }
        Event::ConnectionLost { error } => {
            println!("connection lost ({error}); the client reconnects by itself");
            0
        }
        _ => 0,
    }
}
