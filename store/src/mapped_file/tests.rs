use super::*;

const PREFAULT: Prepare = Prepare {
    reserve: true,
    prefault: true,
};
const RESERVE: Prepare = Prepare {
    reserve: true,
    prefault: false,
};

/// Pages of `f`'s mapping resident in the page cache.
fn resident_pages(f: &MappedFile) -> usize {
    f.resident_pages(0, f.size)
}

#[test]
fn prefault_makes_every_page_resident_and_zero() {
    let dir = tempfile::tempdir().unwrap();
    let size = 4 << 20;
    let f = MappedFile::create(dir.path(), 0, size, PREFAULT).unwrap();
    assert_eq!(resident_pages(&f), size / OS_PAGE_SIZE);
    assert!(f.bytes_at(0, size).iter().all(|b| *b == 0));
    assert_eq!(std::fs::metadata(f.path()).unwrap().len(), size as u64);
    // The fallback (a kernel without MADV_POPULATE_WRITE) too.
    let g = MappedFile::create(dir.path(), size as i64, size, RESERVE).unwrap();
    g.touch_pages();
    assert_eq!(resident_pages(&g), size / OS_PAGE_SIZE);
    assert!(g.bytes_at(0, size).iter().all(|b| *b == 0));
}

#[test]
fn names_are_twenty_digits() {
    assert_eq!(MappedFile::file_name(1_073_741_824), "00000000001073741824");
    assert_eq!(
        MappedFile::parse_file_name("00000000001073741824"),
        Some(1_073_741_824)
    );
    assert_eq!(MappedFile::parse_file_name("0000000000107374182"), None);
    assert_eq!(MappedFile::parse_file_name("0000000000107374182x"), None);
}

#[test]
fn append_publish_read_flush_truncate() {
    let dir = tempfile::tempdir().unwrap();
    let f = Arc::new(MappedFile::create(dir.path(), 8192, 8192, PREFAULT).unwrap());
    assert_eq!(f.path().file_name().unwrap(), "00000000000000008192");
    assert_eq!(f.read(0, 1), None);
    let (pos, ()) = f
        .append_with(5, 7, |dst, _| {
            dst.copy_from_slice(b"hello");
            Ok(())
        })
        .unwrap();
    assert_eq!(
        (pos, f.wrote_position(), f.store_timestamp(), f.end_offset()),
        (0, 5, 7, 8197)
    );
    let view = f.slice(1, 4).unwrap();
    assert_eq!(&view[..], b"ello");
    assert!(f.slice(1, 5).is_none());
    let failed = f.append_with(3, 0, |_, _| Err::<(), _>(StoreError::MessageIllegal("x")));
    assert!(failed.is_err());
    assert_eq!(f.wrote_position(), 5);
    assert!(matches!(
        f.append_with(8188, 0, |_, _| Ok(())),
        Err(StoreError::MessageTooLarge { .. })
    ));
    assert_eq!(
        f.flush(1, &Msync).unwrap(),
        0,
        "less than a page is not due"
    );
    assert_eq!(f.flush(0, &Msync).unwrap(), 5);
    f.truncate_to(2, true).unwrap();
    assert_eq!((f.wrote_position(), f.flushed_position()), (2, 2));
    assert_eq!(f.read_unpublished(0, 5).unwrap(), b"he\0\0\0");
    drop(f);
    let again = MappedFile::open(&dir.path().join("00000000000000008192"), 8192).unwrap();
    assert_eq!(again.wrote_position(), 8192);
    assert_eq!(again.read(0, 3).unwrap(), b"he\0");
    assert!(matches!(
        MappedFile::open(&dir.path().join("00000000000000008192"), 4096),
        Err(StoreError::BadFileSize { actual: 8192, .. })
    ));
    again.delete().unwrap();
    again.delete().unwrap();
}

#[test]
fn create_reserves_blocks_without_touching_pages() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let size = 64 << 20;
    let f = MappedFile::create(dir.path(), 0, size, RESERVE).unwrap();
    let meta = std::fs::metadata(f.path()).unwrap();
    assert_eq!(meta.len(), size as u64);
    // fallocate: the blocks are on disk already (a sparse file would have ~0).
    assert!(
        meta.blocks() * 512 >= size as u64,
        "{} bytes allocated",
        meta.blocks() * 512
    );
    assert_eq!(resident_pages(&f), 0, "creating touches no page");
    assert!(f.read_unpublished(0, size).unwrap().iter().all(|b| *b == 0));
    // Without `reserve` the file is sparse, as RocketMQ makes it.
    let g = MappedFile::create(dir.path(), size as i64, size, Prepare::default()).unwrap();
    assert!(std::fs::metadata(g.path()).unwrap().blocks() * 512 < size as u64 / 2);
}

#[test]
fn populate_makes_just_the_range_resident() {
    let dir = tempfile::tempdir().unwrap();
    let size = 64 << 20;
    let f = MappedFile::create(dir.path(), 0, size, RESERVE).unwrap();
    // Unaligned ends widen to whole pages.
    let (from, to) = (3 * OS_PAGE_SIZE + 5, 3 * OS_PAGE_SIZE + (1 << 20) + 1);
    let how = f.populate(from, to);
    assert_ne!(how, Populated::Failed);
    let pages = f.resident_pages(3 * OS_PAGE_SIZE, 4 * OS_PAGE_SIZE + (1 << 20));
    assert_eq!(pages, (1 << 20) / OS_PAGE_SIZE + 1, "{how:?}");
    // Read-around may add pages past the range, but not the whole file.
    assert!(resident_pages(&f) < size / OS_PAGE_SIZE / 2);
    assert_eq!(
        f.populate(size - 10, size + 4096),
        how,
        "clamped to the file"
    );
    assert!(f.read_unpublished(0, size).unwrap().iter().all(|b| *b == 0));
    // The fallback for kernels without MADV_POPULATE_WRITE.
    let g = MappedFile::create(dir.path(), size as i64, size, RESERVE).unwrap();
    assert_eq!(g.will_need(0, 1 << 20), Populated::Cached);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while g.resident_pages(0, 1 << 20) < (1 << 20) / OS_PAGE_SIZE {
        assert!(
            std::time::Instant::now() < deadline,
            "WILLNEED read nothing"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn writer_rings_the_bell_at_the_warm_mark() {
    let dir = tempfile::tempdir().unwrap();
    let f = MappedFile::create(dir.path(), 0, 1 << 16, RESERVE).unwrap();
    let bell = Arc::new(Bell::default());
    let short = std::time::Duration::from_millis(1);
    f.arm_warm_mark(100, &bell);
    f.append_with(99, 0, |_, _| Ok(())).unwrap();
    assert!(!bell.wait(short), "not yet at the mark");
    f.append_with(1, 0, |_, _| Ok(())).unwrap();
    assert!(bell.wait(short), "rung at the mark");
    f.append_with(1000, 0, |_, _| Ok(())).unwrap();
    assert!(!bell.wait(short), "rung once, then disarmed");
}

#[test]
fn a_random_tail_populates_without_read_around() {
    let dir = tempfile::tempdir().unwrap();
    let size = 64 << 20;
    let f = MappedFile::create(dir.path(), 0, size, RESERVE).unwrap();
    f.advise_random_tail(0);
    assert_ne!(f.populate(0, 1 << 20), Populated::Failed);
    // Exactly the range: no 8 MiB read-around past it.
    assert_eq!(resident_pages(&f), (1 << 20) / OS_PAGE_SIZE);
    f.advise_normal();
    f.advise_normal();
}

#[test]
fn read_ahead_brings_a_dropped_range_back_into_the_page_cache() {
    use std::os::fd::AsRawFd;
    let dir = tempfile::tempdir().unwrap();
    let size = 8 << 20;
    let f = MappedFile::create(dir.path(), 0, size, RESERVE).unwrap();
    f.append_with(size, 0, |dst, _| {
        dst.fill(0x5A);
        Ok(())
    })
    .unwrap();
    f.msync(0, size).unwrap();
    let path = f.path().to_path_buf();
    // Unmapped, so that its pages can be dropped (a no-op on file systems
    // without a page cache of their own, e.g. tmpfs, where they stay).
    drop(f);
    let fd = File::open(&path).unwrap();
    // SAFETY: advisory call on an open descriptor.
    unsafe { libc::posix_fadvise(fd.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    let f = MappedFile::open(&path, size).unwrap();
    let half = size / 2;
    f.read_ahead(0, half);
    let pages = half / OS_PAGE_SIZE;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while f.resident_pages(0, half) < pages && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(f.resident_pages(0, half), pages);
    assert!(f.bytes_at(0, size).iter().all(|b| *b == 0x5A));
}

/// Pages of `f`'s mapping in `[from, to)` that have a page-table entry in
/// this process (`/proc/self/pagemap` bit 63, readable unprivileged).
fn mapped_pages(f: &MappedFile, from: usize, to: usize) -> usize {
    use std::io::{Read, Seek, SeekFrom};
    let base = f.map.as_ptr() as usize + from;
    let pages = (to - from) / OS_PAGE_SIZE;
    let mut pagemap = File::open("/proc/self/pagemap").unwrap();
    pagemap
        .seek(SeekFrom::Start((base / OS_PAGE_SIZE * 8) as u64))
        .unwrap();
    let mut entries = vec![0u8; pages * 8];
    pagemap.read_exact(&mut entries).unwrap();
    entries
        .chunks_exact(8)
        .filter(|e| u64::from_le_bytes((*e).try_into().unwrap()) >> 63 == 1)
        .count()
}

#[test]
fn flush_unmaps_the_whole_pages_it_writes_back_and_keeps_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let size = 1 << 20;
    let f = Arc::new(MappedFile::create(dir.path(), 0, size, PREFAULT).unwrap());
    let len = 5 * OS_PAGE_SIZE + 100;
    f.append_with(len, 1, |dst, _| {
        dst.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        Ok(())
    })
    .unwrap();
    assert_eq!(mapped_pages(&f, 0, size), size / OS_PAGE_SIZE);
    assert_eq!(f.flush(0, &Msync).unwrap(), len);
    // The five whole pages behind the writer leave the mapping; the page it
    // is still filling and everything ahead of it stay mapped.
    assert_eq!(mapped_pages(&f, 0, 5 * OS_PAGE_SIZE), 0);
    assert_eq!(
        mapped_pages(&f, 5 * OS_PAGE_SIZE, size),
        size / OS_PAGE_SIZE - 5
    );
    // The bytes are still there, in the page cache and on disk.
    let view = f.slice(0, len).unwrap();
    assert!(view.iter().enumerate().all(|(i, b)| *b == i as u8));
    let on_disk = std::fs::read(f.path()).unwrap();
    assert_eq!(&on_disk[..len], &view[..]);
}

#[test]
fn views_keep_the_mapping_alive_after_the_file_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let f = MappedFile::create(dir.path(), 0, 1 << 16, RESERVE).unwrap();
    f.append_with(6, 1, |dst, _| {
        dst.copy_from_slice(b"abcdef");
        Ok(())
    })
    .unwrap();
    let (a, b) = (f.slice(0, 3).unwrap(), f.slice(3, 3).unwrap());
    assert_eq!(f.slice(4, 3), None, "past the write position");
    f.delete().unwrap();
    drop(f);
    assert_eq!((&a[..], &b[..]), (&b"abc"[..], &b"def"[..]));
    assert_eq!(&a.slice(1..)[..], b"bc");
}
