use super::*;

fn facts<'a>(message: &'a str, consumer: Option<&'a str>) -> DeadLetterFacts<'a> {
    DeadLetterFacts {
        code: "CATGA_HANDLER_FAILED",
        message,
        deliveries: 3,
        original_subject: "catga.evt.orders.placed",
        stream_sequence: 42,
        stream: Some("CATGA_EVENTS"),
        consumer,
    }
}

fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| v.as_str().to_owned())
}

#[test]
fn carries_the_failure_and_where_the_message_came_from() {
    let headers = dead_letter_headers(&facts("boom", Some("billing-orders_placed")));
    assert_eq!(get(&headers, "Catga-Error-Code").as_deref(), Some("CATGA_HANDLER_FAILED"));
    assert_eq!(get(&headers, "Catga-Error-Message").as_deref(), Some("boom"));
    assert_eq!(get(&headers, "Catga-Deliveries").as_deref(), Some("3"));
    assert_eq!(get(&headers, "Catga-Original-Subject").as_deref(), Some("catga.evt.orders.placed"));
    assert_eq!(get(&headers, "Catga-Stream-Sequence").as_deref(), Some("42"));
    assert_eq!(get(&headers, "Catga-Stream").as_deref(), Some("CATGA_EVENTS"));
    assert_eq!(get(&headers, "Catga-Consumer").as_deref(), Some("billing-orders_placed"));
}

#[test]
fn keeps_every_value_on_one_line() {
    let headers = dead_letter_headers(&facts("line one\r\nline two\nthree", None));
    assert_eq!(get(&headers, "Catga-Error-Message").as_deref(), Some("line one  line two three"));
    assert_eq!(get(&headers, "Catga-Consumer"), None);
}
