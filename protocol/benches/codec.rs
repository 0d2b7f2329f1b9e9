//! Encoding and decoding a 1 KiB SEND_MESSAGE_V2 request, in both header
//! serializations, with and without reading the typed header.
//! Figures and the machine they came from: protocol/BENCHMARKS.md.

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use skylark_protocol::headers::send::SendMessageRequestHeaderV2;
use skylark_protocol::{RemotingCodec, RemotingCommand, RequestCode, SerializeType};
use std::hint::black_box;
use tokio_util::codec::{Decoder, Encoder};

fn send_request(ser: SerializeType) -> RemotingCommand {
    let header = SendMessageRequestHeaderV2 {
        producer_group: "please_rename_unique_group_name".into(),
        topic: "BenchmarkTest".into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 3,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_123,
        flag: 0,
        properties: Some(
            "KEYS\u{1}order-42\u{2}UNIQ_KEY\u{1}7F0000010C3418B4AAC27A3F4B2E0000\u{2}\
             WAIT\u{1}true\u{2}TAGS\u{1}TagA\u{2}"
                .into(),
        ),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(false),
        broker_name: Some("broker-a".into()),
    };
    let mut cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2, &header)
        .with_opaque(42)
        .with_body(Bytes::from(vec![b'x'; 1024]));
    cmd.serialize_type = ser;
    cmd
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("send_v2_1KiB");
    group.throughput(Throughput::Elements(1));
    for (name, ser) in [
        ("json", SerializeType::Json),
        ("rocketmq", SerializeType::RocketMq),
    ] {
        let cmd = send_request(ser);
        let mut frame = BytesMut::new();
        RemotingCodec::default()
            .encode(&cmd, &mut frame)
            .expect("encodable");

        group.bench_function(format!("encode/{name}"), |b| {
            let mut codec = RemotingCodec::default();
            let mut out = BytesMut::with_capacity(4096);
            b.iter(|| {
                out.clear();
                codec.encode(black_box(&cmd), &mut out).expect("encodable");
                black_box(out.len())
            })
        });
        group.bench_function(format!("decode/{name}"), |b| {
            let mut codec = RemotingCodec::default();
            b.iter_batched(
                || BytesMut::from(&frame[..]),
                |mut buf| black_box(codec.decode(&mut buf).expect("valid")),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("decode+header/{name}"), |b| {
            let mut codec = RemotingCodec::default();
            b.iter_batched(
                || BytesMut::from(&frame[..]),
                |mut buf| {
                    let cmd = codec.decode(&mut buf).expect("valid").expect("whole frame");
                    black_box(
                        cmd.read_header::<SendMessageRequestHeaderV2>()
                            .expect("header"),
                    )
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
