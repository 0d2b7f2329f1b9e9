#![allow(clippy::unwrap_used)]
//! Garbage on some connections closes those connections, never the
//! broker: a well-behaved client keeps sending and pulling without error
//! while others flood the broker with malformed frames.

mod support;

use std::time::Duration;

use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use support::{TestBroker, records};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Frames a RocketMQ decoder must refuse, each on its own connection.
fn garbage(round: u32) -> Vec<u8> {
    match round % 6 {
        // Length far above the 16 MiB maximum.
        0 => vec![0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1],
        // Header length larger than the frame.
        1 => [&20u32.to_be_bytes()[..], &[0, 0, 0x10, 0], &[b'{'; 16]].concat(),
        // A JSON header that is not JSON.
        2 => {
            let header = b"{not json at all";
            let len = 4 + header.len();
            [
                &u32::try_from(len).unwrap().to_be_bytes()[..],
                &u32::try_from(header.len()).unwrap().to_be_bytes()[..],
                header,
            ]
            .concat()
        }
        // An unknown serialize type.
        3 => [&8u32.to_be_bytes()[..], &[7, 0, 0, 0], &[0; 4]].concat(),
        // A valid JSON header of a send with no fields at all.
        4 => {
            let header = br#"{"code":310,"flag":0,"language":"JAVA","opaque":1,"serializeTypeCurrentRPC":"JSON","version":479}"#;
            let len = 4 + header.len();
            [
                &u32::try_from(len).unwrap().to_be_bytes()[..],
                &u32::try_from(header.len()).unwrap().to_be_bytes()[..],
                header,
            ]
            .concat()
        }
        // Random noise.
        _ => (0..4096u32)
            .map(|i| u8::try_from((i.wrapping_mul(2_654_435_761) >> 24) & 0xFF).unwrap())
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_connections_do_not_disturb_a_good_client() {
    let broker = TestBroker::start(|_| {}).await;
    let addr = broker.addr.clone();
    let flood = tokio::spawn(async move {
        for round in 0..300u32 {
            let Ok(mut stream) = TcpStream::connect(&addr).await else {
                continue;
            };
            let _ = stream.write_all(&garbage(round)).await;
            // Read whatever comes back until the broker closes or answers.
            let mut sink = [0u8; 1024];
            let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut sink)).await;
        }
    });

    for i in 0..200 {
        let response = broker
            .send("Good", i % 4, "", format!("g{i}").as_bytes())
            .await;
        assert_eq!(
            response.response_code(),
            ResponseCode::SUCCESS,
            "send {i}: {:?}",
            response.remark
        );
    }
    flood.await.unwrap();

    broker.wait_dispatched();
    let mut total = 0;
    for queue in 0..4 {
        let mut offset = 0;
        loop {
            let response = broker.pull("G", "Good", queue, offset, "*", 0).await;
            if response.response_code() != ResponseCode::SUCCESS {
                assert_eq!(response.response_code(), ResponseCode::PULL_NOT_FOUND);
                break;
            }
            let got = records(&response);
            total += got.len();
            offset = got.last().unwrap().queue_offset + 1;
        }
    }
    assert_eq!(total, 200);

    // A header missing required fields on a good connection: SYSTEM_ERROR
    // naming the field, and the connection stays usable.
    let response = broker
        .invoke(RemotingCommand::bare_request(RequestCode::SEND_MESSAGE_V2))
        .await;
    assert_eq!(response.response_code(), ResponseCode::SYSTEM_ERROR);
    assert!(response.remark.unwrap_or_default().contains('a'));
    let response = broker.send("Good", 0, "", b"after").await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    broker.stop().await;
}
