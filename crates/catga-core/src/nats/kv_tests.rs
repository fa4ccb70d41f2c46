use super::check_pattern;

#[test]
fn a_key_pattern_takes_key_tokens_and_wildcards() {
    for pattern in ["order.>", "order.*", "a", "a-b_c/d=e.f", ">", "*.x.>"] {
        assert!(check_pattern(pattern).is_ok(), "{pattern}");
    }
}

#[test]
fn a_bad_key_pattern_is_an_invalid_argument_naming_the_pattern() {
    for pattern in ["", "order.", ".x", "a..b", ">.x", "a>", "a b", "é", "a.*x", "$KV.x"] {
        let error = check_pattern(pattern).expect_err(pattern);
        assert_eq!(error.code.as_str(), "CATGA_INVALID_ARGUMENT", "{pattern}");
        assert!(error.message.contains("pattern"), "{pattern}");
    }
}
