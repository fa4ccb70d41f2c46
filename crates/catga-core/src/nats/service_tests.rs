//! Unit tests of discovery's input checks: both run before async-nats touches the network, so a
//! client that never connected (retrying in the background) is enough.
use super::*;
use crate::error::ErrorCode;

async fn offline_client() -> Client {
    async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .max_reconnects(Some(1))
        .connect("127.0.0.1:1")
        .await
        .unwrap()
}

fn spec(name: &str, version: &str) -> ServiceSpec {
    ServiceSpec { name: name.into(), version: version.into(), description: String::new(), metadata: HashMap::new() }
}

#[tokio::test]
async fn a_name_outside_the_micro_alphabet_is_an_invalid_service() {
    let client = offline_client().await;
    for name in ["", "a.b", "a b", "a*"] {
        let err = start(&client, spec(name, "1.0.0")).await.err().unwrap();
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        assert!(err.message.contains("service"), "{}", err.message);
    }
}

#[tokio::test]
async fn a_version_that_is_not_semver_is_an_invalid_version() {
    let client = offline_client().await;
    for version in ["1.0", "v1.0.0", "latest"] {
        let err = start(&client, spec("orders", version)).await.err().unwrap();
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        assert!(err.message.contains("version"), "{}", err.message);
    }
}
