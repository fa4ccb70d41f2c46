//! Unit tests of `connect` (connecting itself runs against a real server in the napi tests).
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
