use super::ConsumerState;

fn state(ack_floor: u64, delivered: u64, ack_pending: u64) -> ConsumerState {
    ConsumerState { ack_floor, delivered, ack_pending }
}

#[test]
fn a_consumer_that_started_clean_is_settled_at_once() {
    let start = state(40, 40, 0);
    assert!(state(40, 40, 0).settled_through(&start));
}

#[test]
fn unacked_messages_of_an_earlier_instance_hold_until_the_floor_passes_them() {
    // A dead instance left 10 of the messages up to 40 unacked; this one has taken more since.
    let start = state(25, 40, 10);
    assert!(!state(25, 60, 30).settled_through(&start));
    assert!(!state(39, 60, 20).settled_through(&start));
    assert!(state(40, 60, 20).settled_through(&start));
    assert!(state(55, 60, 5).settled_through(&start));
}

#[test]
fn nothing_pending_means_settled_whatever_the_floor_reads() {
    let start = state(25, 40, 10);
    assert!(state(0, 60, 0).settled_through(&start));
}

mod stream_defaults {
    use std::time::Duration;

    use async_nats::jetstream::stream::{RetentionPolicy, StorageType};

    use super::super::{default_duplicate_window, StreamSpec, DEFAULT_DUPLICATE_WINDOW};

    #[test]
    fn a_stream_without_an_age_limit_drops_duplicates_for_two_minutes() {
        assert_eq!(DEFAULT_DUPLICATE_WINDOW, Duration::from_secs(120));
        assert_eq!(default_duplicate_window(Duration::ZERO), DEFAULT_DUPLICATE_WINDOW);
        assert_eq!(default_duplicate_window(Duration::from_secs(3600)), DEFAULT_DUPLICATE_WINDOW);
    }

    #[test]
    fn the_default_duplicate_window_never_outlasts_the_age_limit() {
        // The server refuses a duplicate window longer than max age.
        assert_eq!(default_duplicate_window(Duration::from_secs(30)), Duration::from_secs(30));
        assert_eq!(default_duplicate_window(Duration::from_millis(1)), Duration::from_millis(1));
    }

    #[test]
    fn a_new_spec_is_valid_and_asks_the_server_for_the_documented_defaults() {
        let spec = StreamSpec::new("ORDERS", vec!["catga.evt.orders.>".into()]);
        assert!(spec.validate().is_ok());
        let config = spec.to_config();
        assert_eq!(config.retention, RetentionPolicy::Limits);
        assert_eq!(config.max_age, Duration::ZERO);
        assert_eq!((config.max_messages, config.max_bytes), (-1, -1));
        assert_eq!(config.num_replicas, 1);
        assert_eq!(config.duplicate_window, DEFAULT_DUPLICATE_WINDOW);
        assert_eq!(config.storage, StorageType::File);
    }
}
