use std::time::Duration;

use super::*;
use crate::error::ErrorCode;

#[test]
fn defaults_are_valid() {
    assert!(NatsOptions::default().validate().is_ok());
}

type Zeroing = fn(&mut NatsOptions);

#[test]
fn zero_durations_are_refused_naming_the_field() {
    // A zero ping interval used to reach async-nats and panic on the runtime thread.
    let cases: [(&str, Zeroing); 4] = [
        ("pingIntervalMs", |o| o.ping_interval = Duration::ZERO),
        ("connectTimeoutMs", |o| o.connect_timeout = Duration::ZERO),
        ("requestTimeoutMs", |o| o.request_timeout = Duration::ZERO),
        ("durablePublishTimeoutMs", |o| o.durable_publish_timeout = Duration::ZERO),
    ];
    for (field, zero) in cases {
        let mut options = NatsOptions::default();
        zero(&mut options);
        let Err(error) = options.validate() else { panic!("{field} = 0 was accepted") };
        assert_eq!(error.code, ErrorCode::InvalidArgument, "{field}");
        assert!(error.message.contains(field), "{field}: {}", error.message);
    }
}
