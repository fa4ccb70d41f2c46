//! Unit tests of `error`.
use super::*;

#[test]
fn every_code_is_listed_once_with_a_catga_prefix() {
    let mut seen = std::collections::HashSet::new();
    for code in ErrorCode::ALL {
        assert!(code.as_str().starts_with("CATGA_"), "{code}");
        assert!(seen.insert(code.as_str()), "{code} is listed twice");
    }
    assert!(ErrorCode::ALL.contains(&ErrorCode::Transport));
}
