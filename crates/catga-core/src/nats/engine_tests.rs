//! Unit tests of `engine` (kept apart so the module reads as production code only).
use super::*;

#[test]
fn reconnect_delay_grows_and_is_capped() {
    let initial = Duration::from_millis(100);
    let max = Duration::from_secs(2);
    assert!(reconnect_delay(1, initial, max) <= Duration::from_millis(200));
    assert!(reconnect_delay(30, initial, max) <= max);
    assert!(reconnect_delay(30, initial, max) >= max / 2);
}

#[test]
fn bad_server_urls_are_named() {
    let err = parse_servers(&["nats://ok:4222".into(), "::::".into()]).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    assert!(err.message.starts_with("servers[1]"), "{}", err.message);
}

#[test]
fn publish_subjects_are_checked_as_async_nats_does() {
    for good in ["orders.evt.placed", "a", "_INBOX.x.1", "a.*.>", "ünïcode.ok"] {
        assert!(check_publish_subject(good).is_ok(), "{good}");
    }
    for bad in ["", ".a", "a.", "a..b", "a b", "a\tb", "a\r\nb"] {
        let Err(error) = check_publish_subject(bad) else { panic!("{bad:?} was accepted") };
        assert_eq!(error.code, ErrorCode::InvalidArgument, "{bad:?}");
    }
}
