//! The spool: a durable queue with reserve, visibility timeout, ack and nack,
//! delivering at least once across restarts, bounded in bytes.

mod common;

use std::time::Duration;

use common::temp_dir;
use viz::spool::Spool;
use viz::{ErrorKind, Event};

fn events(steps: std::ops::Range<i64>) -> Vec<Event> {
    steps
        .map(|s| {
            Event::scalar("q/x", s, s as f64)
                .unwrap()
                .at(1000.0 + s as f64)
        })
        .collect()
}

fn steps(events: &[Event]) -> Vec<i64> {
    common::steps(events)
}

const LONG: Duration = Duration::from_secs(60);

#[test]
fn reserve_ack_and_nack_hand_out_every_event_in_order() {
    let dir = temp_dir("spool", "basic");
    let mut q = Spool::open(&dir, 1 << 30).unwrap();
    assert!(q.reserve(10, LONG).unwrap().is_none(), "empty");
    q.enqueue(&events(0..100)).unwrap();
    assert_eq!(q.depth(), 100);
    assert_eq!(q.oldest_wall_time().unwrap(), Some(1000.0));
    let a = q.reserve(30, LONG).unwrap().unwrap();
    let b = q.reserve(30, LONG).unwrap().unwrap();
    assert_eq!((a.from, steps(&a.events)), (0, (0..30).collect::<Vec<_>>()));
    assert_eq!((b.from, b.redelivery), (30, 0));
    q.ack(a).unwrap();
    assert_eq!(q.depth(), 70);
    assert_eq!(q.oldest_wall_time().unwrap(), Some(1030.0));
    q.nack(b).unwrap();
    // A nacked range comes back before anything new, marked as a redelivery.
    let again = q.reserve(100, LONG).unwrap().unwrap();
    assert_eq!(
        (again.from, again.events.len(), again.redelivery),
        (30, 30, 1)
    );
    let rest = q.reserve(100, LONG).unwrap().unwrap();
    assert_eq!((rest.from, rest.events.len()), (60, 40));
    assert!(q.reserve(100, LONG).unwrap().is_none(), "all handed out");
    // Acks out of order: the acked position moves once the gap is filled.
    q.ack(rest).unwrap();
    assert_eq!(q.depth(), 70, "60..100 acked, 30..60 still out");
    q.ack(again).unwrap();
    assert_eq!(q.depth(), 0);
    let s = q.stats();
    assert_eq!((s.reserved, s.acked, s.redelivered), (130, 100, 30));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_reservation_not_acked_in_time_is_handed_out_again() {
    let dir = temp_dir("spool", "visibility");
    let mut q = Spool::open(&dir, 1 << 30).unwrap();
    q.enqueue(&events(0..10)).unwrap();
    let first = q.reserve(10, Duration::from_millis(30)).unwrap().unwrap();
    assert!(
        q.reserve(10, LONG).unwrap().is_none(),
        "invisible while reserved"
    );
    std::thread::sleep(Duration::from_millis(60));
    let again = q.reserve(10, LONG).unwrap().unwrap();
    assert_eq!(
        (again.from, again.events.len(), again.redelivery),
        (0, 10, 1)
    );
    // The late sender's ack is refused: its reservation was handed out again.
    let e = q.ack(first).unwrap_err();
    assert!(e.message().contains("offset 0"), "{e}");
    q.ack(again).unwrap();
    assert_eq!(q.depth(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn after_a_restart_only_unacked_events_are_sent_again() {
    let dir = temp_dir("spool", "restart");
    {
        let mut q = Spool::open(&dir, 1 << 30).unwrap();
        q.enqueue(&events(0..100)).unwrap();
        let a = q.reserve(40, LONG).unwrap().unwrap();
        q.ack(a).unwrap();
        let _in_flight = q.reserve(20, LONG).unwrap().unwrap();
        // The process dies here: the in-flight batch was never acked.
    }
    let mut q = Spool::open(&dir, 1 << 30).unwrap();
    assert_eq!(q.depth(), 60);
    let r = q.reserve(1000, LONG).unwrap().unwrap();
    assert_eq!(
        (r.from, r.events.len()),
        (40, 60),
        "the in-flight batch again, then the rest"
    );
    assert_eq!(r.events[0].step, 40);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_spool_is_bounded_and_frees_what_is_acked() {
    let dir = temp_dir("spool", "bounded");
    let limit = 1 << 20;
    let mut q = Spool::open(&dir, limit).unwrap();
    let mut enqueued = 0i64;
    let e = loop {
        match q.enqueue(&events(enqueued..enqueued + 500)) {
            Ok(()) => enqueued += 500,
            Err(e) => break e,
        }
        assert!(enqueued < 1_000_000, "never full");
    };
    assert_eq!(e.kind(), ErrorKind::QueueFull);
    assert!(e.message().contains("not keeping up"), "{e}");
    let full = q.stats().bytes;
    // Deliver everything: acked segments are deleted, and there is room again.
    while let Some(r) = q.reserve(5000, LONG).unwrap() {
        q.ack(r).unwrap();
    }
    assert_eq!(q.depth(), 0);
    assert!(
        q.stats().bytes < full / 4,
        "{} of {full} bytes left",
        q.stats().bytes
    );
    q.enqueue(&events(0..500)).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
