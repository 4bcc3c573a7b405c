//! The object-store client against a real S3-compatible server: SeaweedFS from
//! PyPI (`scripts/s3-server.sh`), on 127.0.0.1, with request signing switched on.
//! Objects of bytes to megabytes round-trip whole and by range, listings page past
//! 1000 keys, and wrong or missing credentials, a missing bucket and a dead server
//! each give a clear error that names what is wrong and never a secret.

mod common;

use common::s3::Server;
use viz::ErrorKind;
use viz::object_store::ObjectStore;

/// A deterministic byte pattern of `n` bytes.
fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn objects_round_trip_and_failures_are_named() {
    let Some(server) = Server::start() else {
        return;
    };
    let store = server.open("viz-test/project");
    assert_eq!((store.bucket(), store.prefix()), ("viz-test", "project"));
    store.create_bucket().unwrap();
    store.create_bucket().unwrap(); // again: ours already, fine

    // Bytes to megabytes, whole and by range.
    for (i, n) in [0usize, 1, 4096, 1 << 20, 8 << 20].into_iter().enumerate() {
        let key = store.key(&format!("sizes/{n}"));
        let body = bytes(n, i as u8);
        store.put(&key, &body).unwrap();
        assert_eq!(
            store.get(&key).unwrap().as_deref(),
            Some(&body[..]),
            "{n} bytes"
        );
        if n >= 4096 {
            let (start, len) = (n as u64 / 3, 1000);
            assert_eq!(
                store.get_range(&key, start, len).unwrap(),
                &body[start as usize..(start + len) as usize],
                "a range of {n} bytes"
            );
        }
    }
    // Rewritten whole.
    let key = store.key("sizes/1");
    store.put(&key, b"xyz").unwrap();
    assert_eq!(store.get(&key).unwrap().as_deref(), Some(&b"xyz"[..]));
    assert_eq!(store.get(&store.key("absent")).unwrap(), None);
    // A conditional write: the first wins, the second is told.
    let claim = store.key("claims/one");
    assert!(store.put_new(&claim, b"first").unwrap());
    assert!(!store.put_new(&claim, b"second").unwrap());
    assert_eq!(store.get(&claim).unwrap().as_deref(), Some(&b"first"[..]));

    // A listing pages past 1000 keys, in key order, with sizes.
    for i in 0..1005 {
        store
            .put(&store.key(&format!("many/{i:05}")), &bytes(i % 7, 0))
            .unwrap();
    }
    let listed = store.list(&store.key("many/")).unwrap();
    assert_eq!(listed.len(), 1005);
    assert!(listed.windows(2).all(|w| w[0].key < w[1].key));
    assert_eq!(listed[3].key, "project/many/00003");
    assert_eq!(listed[3].size, 3);
    let sizes = store.list(&store.key("sizes/")).unwrap();
    assert_eq!(sizes.len(), 5);
    store.delete(&store.key("many/00000")).unwrap();
    store.delete(&store.key("many/00000")).unwrap(); // gone already: fine
    assert_eq!(store.list(&store.key("many/")).unwrap().len(), 1004);

    // A wrong secret: refused by the server, named, and the secret never shown.
    let wrong = ObjectStore::open(&format!("s3://viz-test?endpoint={}", server.endpoint))
        .unwrap()
        .with_credentials(&server.key, "not-the-secret", None);
    let e = wrong.put("x", b"1").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{e}");
    assert!(e.message().contains("403"), "{e}");
    assert!(e.message().contains("s3://viz-test/x"), "{e}");
    assert!(e.message().contains("AWS_SECRET_ACCESS_KEY"), "{e}");
    for secret in ["not-the-secret", server.secret.as_str(), "X-Amz-Signature"] {
        assert!(!e.message().contains(secret), "{e}");
    }
    // No credentials at all: signing is on, so nothing is read.
    let anonymous = ObjectStore::open(&format!("s3://viz-test?endpoint={}", server.endpoint))
        .unwrap()
        .without_credentials();
    let e = anonymous.get(&store.key("sizes/1")).unwrap_err();
    assert!(e.message().contains("no credentials"), "{e}");

    // A bucket that does not exist is named. (Reading: SeaweedFS, unlike AWS,
    // creates a bucket on the first write into it.)
    let e = server.open("no-such-bucket").list("").unwrap_err();
    assert!(
        e.message()
            .contains("bucket 'no-such-bucket' does not exist"),
        "{e}"
    );

    // A dead server: an I/O error naming the endpoint, never the signed URL.
    server.stop();
    let e = store.get(&store.key("sizes/1")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.message().contains(&server.endpoint), "{e}");
    assert!(!e.message().contains("X-Amz"), "{e}");
}
