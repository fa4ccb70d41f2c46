//! Unit tests of `permissions` (the server side runs in __test__/nats/permissions.test.ts).
use std::time::Duration;

use super::*;

#[test]
fn violations_name_their_subject_and_kind() {
    let publish = "nats: Permissions Violation for Publish to \"orders.cmd.place\"";
    assert_eq!(parse_violation(publish), Some(Violation::Publish("orders.cmd.place".into())));
    let queue = "Permissions Violation for Subscription to \"a.>\" using queue \"q\"";
    assert_eq!(parse_violation(queue), Some(Violation::Subscription("a.>".into())));
    let escaped = r#"Permissions Violation for Publish to "we\"ird\\sub""#;
    assert_eq!(parse_violation(escaped), Some(Violation::Publish("we\"ird\\sub".into())));
    assert_eq!(
        parse_violation("Permissions Violation for Publish to \"ünï.cödé\""),
        Some(Violation::Publish("ünï.cödé".into()))
    );
}

#[test]
fn other_errors_and_cut_texts_are_no_violation() {
    for text in [
        "nats: authorization violation",
        "Permissions Violation for Publish to \"unterminated",
        "Permissions Violation for Publish to \"ends in an escape\\",
        "Permissions Violation for Publish to",
        "",
    ] {
        assert_eq!(parse_violation(text), None, "{text:?}");
    }
}

#[test]
fn a_refused_publish_is_remembered_until_reconnect() {
    let permissions = Permissions::default();
    assert!(!permissions.is_denied("a"));
    assert!(permissions.record("Permissions Violation for Publish to \"a\""));
    assert!(permissions.is_denied("a"));
    assert!(!permissions.is_denied("b"));
    permissions.reset_publishes();
    assert!(!permissions.is_denied("a"));
}

#[test]
fn subjects_sort_into_refused_unconfirmed_and_known_good() {
    let permissions = Permissions::default();
    permissions.confirm(["good"]);
    permissions.record("Permissions Violation for Publish to \"bad\"");
    let sorted = permissions.sort(["good", "bad", "new"]);
    assert_eq!(sorted, Sorted { denied: vec!["bad"], unconfirmed: vec!["new"] });
    // A refusal after a confirmation wins: the next publish is refused at once.
    permissions.record("Permissions Violation for Publish to \"good\"");
    assert_eq!(permissions.sort(["good"]).denied, vec!["good"]);
    permissions.reset_publishes();
    assert_eq!(permissions.sort(["good", "bad"]).unconfirmed, vec!["good", "bad"]);
}

#[test]
fn remembered_sets_stay_bounded() {
    let permissions = Permissions::default();
    let many: Vec<String> = (0..MAX_REMEMBERED + 10).map(|i| format!("s.{i}")).collect();
    permissions.confirm(many.iter().map(String::as_str));
    assert!(lock(&permissions.confirmed).len() <= MAX_REMEMBERED);
    for subject in &many {
        permissions.record(&format!("Permissions Violation for Publish to \"{subject}\""));
    }
    assert!(lock(&permissions.denied).len() <= MAX_REMEMBERED);
    // The newest refusal is always remembered.
    assert!(permissions.is_denied(many.last().map(String::as_str).unwrap_or_default()));
}

#[test]
fn refused_subscriptions_are_listed_once() {
    let permissions = Permissions::default();
    permissions.record("Permissions Violation for Subscription to \"b\"");
    permissions.record("Permissions Violation for Subscription to \"a\" using queue \"q\"");
    permissions.record("Permissions Violation for Subscription to \"b\"");
    assert_eq!(permissions.refused_subscriptions(), vec!["a".to_owned(), "b".to_owned()]);
    assert!(!permissions.is_denied("a"), "a refused subscription says nothing about publishing");
}

#[tokio::test]
async fn a_waiting_call_wakes_on_its_subjects_refusal_only() {
    let permissions = std::sync::Arc::new(Permissions::default());
    let mut changes = permissions.watch();
    let waiting = {
        let permissions = permissions.clone();
        tokio::spawn(async move { permissions.denied("mine", &mut changes).await })
    };
    permissions.record("Permissions Violation for Publish to \"other\"");
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiting.is_finished(), "another subject's refusal must not end the wait");
    permissions.record("Permissions Violation for Publish to \"mine\"");
    let error = tokio::time::timeout(Duration::from_secs(1), waiting).await.expect("woken").expect("joined");
    assert_eq!(error.code, ErrorCode::PermissionDenied);
    assert!(error.message.contains("\"mine\""), "{}", error.message);
}

#[tokio::test]
async fn a_subject_refused_before_the_wait_ends_it_at_once() {
    let permissions = Permissions::default();
    permissions.record("Permissions Violation for Publish to \"mine\"");
    let mut changes = permissions.watch();
    let error = tokio::time::timeout(Duration::from_millis(100), permissions.denied("mine", &mut changes)).await;
    assert_eq!(error.map(|e| e.code), Ok(ErrorCode::PermissionDenied));
}
