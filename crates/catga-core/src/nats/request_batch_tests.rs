//! Unit tests of `request_batch` (sending runs against a real server in the napi tests).
use super::*;
use crate::error::ErrorCode;
use crate::frame::decode_frame;
use crate::limits::Limits;

fn subjects(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

fn request(id: u32, subject: u32, envelope: &[u8]) -> BatchRequest<'_> {
    BatchRequest { id, subject, envelope }
}

/// (subject, ids) per job, in plan order; `true` marks a framed group.
fn shape(jobs: &[RequestJob]) -> Vec<(&str, bool, Vec<u32>)> {
    jobs.iter()
        .map(|job| match job {
            RequestJob::Single { subject, id, .. } => (subject.as_str(), false, vec![*id]),
            RequestJob::Framed { subject, ids, .. } => (subject.as_str(), true, ids.clone()),
        })
        .collect()
}

#[test]
fn requests_are_grouped_per_subject_in_arrival_order() {
    let subjects = subjects(&["a", "b"]);
    let batch = [request(10, 0, b"a0"), request(11, 1, b"b0"), request(12, 0, b"a1"), request(13, 1, b"b1")];
    let jobs = plan_requests(&subjects, &batch, 64, FrameOptions::default).unwrap();
    assert_eq!(shape(&jobs), vec![("a", true, vec![10, 12]), ("b", true, vec![11, 13])]);
    let RequestJob::Framed { frame, .. } = &jobs[0] else { panic!("not framed") };
    let decoded = decode_frame(frame, &Limits::default()).unwrap();
    assert_eq!(decoded.envelopes().collect::<Vec<_>>(), vec![&b"a0"[..], &b"a1"[..]]);
}

#[test]
fn a_lone_request_goes_as_a_plain_request_and_comes_first() {
    let subjects = subjects(&["many", "lone"]);
    let batch = [request(1, 0, b"m0"), request(2, 1, b"l0"), request(3, 0, b"m1")];
    let jobs = plan_requests(&subjects, &batch, 64, FrameOptions::default).unwrap();
    assert_eq!(shape(&jobs), vec![("lone", false, vec![2]), ("many", true, vec![1, 3])]);
    assert_eq!(jobs[0], RequestJob::Single { subject: "lone".into(), id: 2, payload: Bytes::from_static(b"l0") });
}

#[test]
fn framing_off_sends_every_request_on_its_own_without_asking_for_frame_options() {
    let subjects = subjects(&["a"]);
    let batch = [request(1, 0, b"x"), request(2, 0, b"y")];
    let asked = std::cell::Cell::new(0);
    let options = || {
        asked.set(asked.get() + 1);
        FrameOptions::default()
    };
    let jobs = plan_requests(&subjects, &batch, 1, options).unwrap();
    assert_eq!(shape(&jobs), vec![("a", false, vec![1]), ("a", false, vec![2])]);
    assert_eq!(asked.get(), 0);
}

#[test]
fn frame_options_are_asked_once_per_batch() {
    let subjects = subjects(&["a", "b"]);
    let batch = [request(1, 0, b"x"), request(2, 0, b"y"), request(3, 1, b"z"), request(4, 1, b"w")];
    let asked = std::cell::Cell::new(0);
    let options = || {
        asked.set(asked.get() + 1);
        FrameOptions::default()
    };
    plan_requests(&subjects, &batch, 64, options).unwrap();
    assert_eq!(asked.get(), 1);
}

#[test]
fn groups_hold_at_most_per_frame_requests_with_ids_in_frame_order() {
    let subjects = subjects(&["a"]);
    let batch: Vec<_> = (0..5).map(|id| request(100 + id, 0, b"e")).collect();
    let jobs = plan_requests(&subjects, &batch, 2, FrameOptions::default).unwrap();
    assert_eq!(shape(&jobs), vec![("a", true, vec![100, 101]), ("a", true, vec![102, 103]), ("a", true, vec![104])]);
}

#[test]
fn requests_that_cannot_be_framed_go_one_by_one_so_each_gets_its_own_outcome() {
    // Each envelope fits the batch limit alone but two frame headers' worth does not fit: the
    // subject's requests go plain and each fails or succeeds on its own.
    let mut options = FrameOptions::default();
    options.limits.max_batch_bytes = 100;
    options.limits.max_envelope_bytes = 100;
    let big = vec![7u8; 95];
    let subjects = subjects(&["a", "b"]);
    let batch = [request(1, 0, &big), request(2, 0, &big), request(3, 1, b"s0"), request(4, 1, b"s1")];
    let jobs = plan_requests(&subjects, &batch, 64, || options).unwrap();
    assert_eq!(shape(&jobs), vec![("a", false, vec![1]), ("a", false, vec![2]), ("b", true, vec![3, 4])]);
}

#[test]
fn a_subject_index_past_the_subjects_is_named() {
    let subjects = subjects(&["a"]);
    let batch = [request(1, 0, b"x"), request(2, 3, b"y")];
    let err = plan_requests(&subjects, &batch, 64, FrameOptions::default).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    assert!(err.message.starts_with("subjectIndex[1]"), "{}", err.message);
}

#[test]
fn an_empty_batch_plans_nothing() {
    assert!(plan_requests(&subjects(&["a"]), &[], 64, FrameOptions::default).unwrap().is_empty());
}
