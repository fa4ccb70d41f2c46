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

#[test]
fn the_cause_is_kept_as_the_source() {
    let io = std::io::Error::other("connection reset");
    let err = CatgaError::new(ErrorCode::Transport, "flush: connection reset").with_cause(io);
    let source = StdError::source(&err).expect("a source");
    assert_eq!(source.to_string(), "connection reset");
    // Clones share the cause; equality ignores it.
    assert_eq!(err.clone(), CatgaError::new(ErrorCode::Transport, "flush: connection reset"));
    assert!(err.clone().cause().is_some());
}
