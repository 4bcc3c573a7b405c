//! The event model: tags, payload validation, serde.

use viz::{
    DType, ErrorKind, Event, EventData, EventKind, Histogram, Image, KindSet, Priority, RawBytes,
    Tag, Tensor,
};

#[test]
fn tags_are_validated_with_clear_messages() {
    let e = Tag::new("").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("empty"), "{e}");

    let long = "x".repeat(1025);
    let e = Tag::new(&long).unwrap_err();
    assert!(
        e.message().contains("1025") && e.message().contains("1024"),
        "{e}"
    );
    assert!(Tag::new(&"x".repeat(1024)).is_ok());

    let e = Tag::new("a\0b").unwrap_err();
    assert!(
        e.message().contains("NUL") && e.message().contains("offset 1"),
        "{e}"
    );

    let e = Tag::from_bytes(b"ok\xffno").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidUtf8);
    assert!(e.message().contains("offset 2"), "{e}");
}

#[test]
fn interning_gives_one_stable_id_per_tag() {
    let a = Tag::new("model/interning_a").unwrap();
    let b = Tag::new("model/interning_b").unwrap();
    assert_ne!(a.id(), b.id());
    assert_eq!(Tag::new("model/interning_a").unwrap().id(), a.id());
    assert_eq!(Tag::from_id(a.id()).as_str(), "model/interning_a");
    assert_eq!(viz::TagId::from_u32(a.id().as_u32()).unwrap(), a.id());
    let e = viz::TagId::from_u32(u32::MAX).unwrap_err();
    assert!(e.message().contains("unknown tag id"), "{e}");
}

#[test]
fn interning_from_many_threads_agrees() {
    let ids: Vec<Vec<viz::TagId>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    (0..200)
                        .map(|i| Tag::new(&format!("race/{i}")).unwrap().id())
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn histogram_from_values_buckets_every_value() {
    let values: Vec<f64> = (0..100).map(f64::from).collect();
    let h = Histogram::from_values(&values, 10).unwrap();
    assert_eq!(h.num, 100.0);
    assert_eq!(h.min, 0.0);
    assert_eq!(h.max, 99.0);
    assert_eq!(h.sum, 4950.0);
    assert_eq!(h.bucket_limits.len(), 10);
    assert_eq!(h.bucket_counts.iter().sum::<f64>(), 100.0);
    assert_eq!(*h.bucket_limits.last().unwrap(), 99.0);
    // Every value lies at or below its bucket's right edge and above the previous one.
    for &v in &values {
        let i = h.bucket_limits.iter().position(|&l| v <= l).unwrap();
        assert!(i == 0 || v > h.bucket_limits[i - 1]);
    }
    h.validate().unwrap();

    let same = Histogram::from_values(&[3.0, 3.0, 3.0], 30).unwrap();
    assert_eq!(same.bucket_limits, vec![3.0]);
    assert_eq!(same.bucket_counts, vec![3.0]);

    let e = Histogram::from_values(&[1.0, f64::NAN], 4).unwrap_err();
    assert!(
        e.message().contains("index 1") && e.message().contains("NaN"),
        "{e}"
    );
    assert!(Histogram::from_values(&[1.0], 0).is_err());
}

#[test]
fn histogram_from_buckets_is_checked() {
    let h = Histogram::from_buckets(vec![1.0, 2.0, 3.0], vec![1.0, 0.0, 2.0]).unwrap();
    assert_eq!(h.num, 3.0);
    let e = Histogram::from_buckets(vec![1.0, 2.0], vec![1.0]).unwrap_err();
    assert!(
        e.message().contains("2 bucket limits but 1 bucket counts"),
        "{e}"
    );
    let e = Histogram::from_buckets(vec![2.0, 1.0], vec![1.0, 1.0]).unwrap_err();
    assert!(e.message().contains("increase strictly"), "{e}");
    let e = Histogram::from_buckets(vec![1.0, 2.0], vec![1.0, -1.0]).unwrap_err();
    assert!(e.message().contains("bucket count 1"), "{e}");
}

/// A minimal valid PNG header for a w x h image (enough for validation).
pub fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut png = vec![
        0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n', 0, 0, 0, 13,
    ];
    png.extend_from_slice(b"IHDR");
    png.extend_from_slice(&w.to_be_bytes());
    png.extend_from_slice(&h.to_be_bytes());
    png.extend_from_slice(&[8, 6, 0, 0, 0]);
    png
}

#[test]
fn images_must_be_png_of_the_declared_size() {
    Image::png(png_header(4, 3), 4, 3, 4).unwrap();
    let e = Image::png(b"GIF89a not a png at all".to_vec(), 4, 3, 4).unwrap_err();
    assert!(e.message().contains("not a PNG"), "{e}");
    let e = Image::png(png_header(4, 3), 5, 3, 4).unwrap_err();
    assert!(
        e.message().contains("5x3") && e.message().contains("4x3"),
        "{e}"
    );
    let e = Image::png(png_header(4, 3), 4, 3, 7).unwrap_err();
    assert!(e.message().contains("channels is 7"), "{e}");
}

#[test]
fn tensors_must_hold_shape_times_dtype_bytes() {
    let t = Tensor::from_f32(vec![2, 3], &[0.0; 6]).unwrap();
    assert_eq!(t.data.len(), 24);
    let e = Tensor::new(DType::F64, vec![2, 2], vec![0; 31]).unwrap_err();
    assert!(e.message().contains("needs 32 bytes but has 31"), "{e}");
    let e = Tensor::new(DType::U8, vec![u64::MAX, 2], vec![]).unwrap_err();
    assert!(e.message().contains("overflows"), "{e}");
    assert_eq!(DType::from_u32(12).unwrap(), DType::Bool);
    let e = DType::from_u32(13).unwrap_err();
    assert!(e.message().contains("unknown dtype value 13"), "{e}");
}

#[test]
fn raw_bytes_need_a_content_type() {
    assert!(RawBytes::new("application/octet-stream", vec![1, 2]).is_ok());
    assert!(
        RawBytes::new("", vec![1])
            .unwrap_err()
            .message()
            .contains("content type")
    );
}

#[test]
fn events_validate_wall_time_and_name_the_tag() {
    let e = Event::scalar("v/wall", 1, 1.0)
        .unwrap()
        .at(f64::NAN)
        .validate()
        .unwrap_err();
    assert!(
        e.message().contains("v/wall") && e.message().contains("wall_time"),
        "{e}"
    );
    let bad = Event::new(
        Tag::new("v/hist").unwrap(),
        0,
        EventData::Histogram(Box::new(Histogram {
            min: 0.0,
            max: 0.0,
            num: 0.0,
            sum: 0.0,
            sum_squares: 0.0,
            bucket_limits: vec![1.0],
            bucket_counts: vec![],
        })),
    );
    let e = bad.validate().unwrap_err();
    assert!(e.message().starts_with("event 'v/hist'"), "{e}");
}

#[test]
fn every_kind_round_trips_through_serde() {
    let events = vec![
        Event::scalar("s", 1, 0.5).unwrap().at(10.0),
        Event::histogram("h", 3, Histogram::from_values(&[1.0, 2.0, 3.0], 2).unwrap()).unwrap(),
        Event::text("t", 2, "hello").unwrap().critical(),
        Event::image("i", 4, Image::png(png_header(1, 1), 1, 1, 3).unwrap()).unwrap(),
        Event::tensor("x", 5, Tensor::from_f32(vec![2], &[1.0, 2.0]).unwrap()).unwrap(),
        Event::raw("r", 6, RawBytes::new("text/csv", b"a,b".to_vec()).unwrap()).unwrap(),
    ];
    let kinds: Vec<EventKind> = events.iter().map(Event::kind).collect();
    assert_eq!(kinds, EventKind::ALL);
    for event in events {
        let json = serde_json::to_string(&event).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event, "{json}");
    }
    let json = serde_json::to_string(&Event::scalar("s", 1, 0.5).unwrap().critical()).unwrap();
    assert!(
        json.contains(r#""tag":"s""#) && json.contains(r#""priority":"critical""#),
        "{json}"
    );
    assert_eq!(Priority::default(), Priority::Normal);
    let e = serde_json::from_str::<Event>(
        r#"{"tag":"","step":1,"wall_time":null,"kind":"scalar","value":1.0}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("tag is empty"), "{e}");
}

#[test]
fn kind_sets_hold_what_they_are_given() {
    let s = KindSet::of(&[EventKind::Scalar, EventKind::Image]);
    assert!(s.contains(EventKind::Scalar) && s.contains(EventKind::Image));
    assert!(!s.contains(EventKind::Text));
    assert!(EventKind::ALL.iter().all(|&k| KindSet::ALL.contains(k)));
}

#[test]
fn rgba_pixels_encode_to_a_png_that_checks_out() {
    let pixels: Vec<u8> = (0..3 * 2 * 4).map(|i| i as u8).collect();
    let image = Image::from_rgba8(3, 2, &pixels).unwrap();
    assert_eq!((image.width, image.height, image.channels), (3, 2, 4));
    image.validate().unwrap();
    // CRC-32 of the IEND chunk type alone is the well-known 0xAE426082.
    assert!(
        image
            .png
            .ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82])
    );
    let e = Image::from_rgba8(3, 2, &pixels[1..]).unwrap_err();
    assert!(
        e.message()
            .contains("3x2 RGBA needs 24 bytes of pixels but has 23"),
        "{e}"
    );
    // A real deflate: a flat 200x100 image is a small fraction of its 80,000
    // bytes of pixels, and decodes back to exactly those pixels.
    let flat = vec![7u8; 200 * 100 * 4];
    let big = Image::from_rgba8(200, 100, &flat).unwrap();
    big.validate().unwrap();
    assert!(big.png.len() < flat.len() / 20, "{} bytes", big.png.len());
    let gradient: Vec<u8> = (0..64 * 48 * 4).map(|i| (i * 7 % 251) as u8).collect();
    for (w, h, pixels) in [(200, 100, &flat), (64, 48, &gradient)] {
        let image = Image::from_rgba8(w, h, pixels).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(image.png))
            .read_info()
            .unwrap();
        let mut out = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut out).unwrap();
        assert_eq!((info.width, info.height), (w, h));
        assert_eq!(&out[..info.buffer_size()], &pixels[..]);
    }
    let e = Image::from_rgba8(0, 0, &[]).unwrap_err();
    assert!(e.message().contains("at least 1"), "{e}");
}
