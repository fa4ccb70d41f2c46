//! Unit tests of `publish` (publishing itself runs against a real server in the napi tests).
use super::*;
use crate::error::ErrorCode;

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
