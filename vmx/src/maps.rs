//! The host process's address space as `/proc/self/maps` reports it.
//!
//! Reading it must not allocate: the run loop reads it while handling a
//! guest page fault, on the thread whose guest code may be inside `malloc`
//! holding the allocator's lock (the exit handler is, in effect, a signal
//! handler of the guest code). Lines are therefore parsed from a fixed
//! prefix buffer as the file streams by.

use crate::paging::USER_VA_LIMIT;
use crate::region::LARGE_PAGE;
use std::io::Read;
use std::ops::{ControlFlow, Range};

/// Regions larger than this are mapped one 2 MiB chunk at a time, on fault,
/// so a huge reservation does not eat guest-physical space.
pub const WHOLE_REGION_LIMIT: u64 = 1 << 30;
/// Bytes of a line kept for parsing: "start-end perms" needs at most 38.
const PREFIX: usize = 64;

/// One line of `/proc/self/maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// Host-virtual addresses covered.
    pub range: Range<u64>,
    /// Whether the host mapping is readable (`r` permission).
    pub readable: bool,
}

/// Parses the start of a maps line (`start-end perms ...`); `None` for a
/// malformed line or a kernel address (`[vsyscall]`).
pub fn parse_line(line: &[u8]) -> Option<Region> {
    let text = std::str::from_utf8(line).ok()?;
    let mut fields = text.split_ascii_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let perms = fields.next()?;
    let start = u64::from_str_radix(start, 16).ok()?;
    let end = u64::from_str_radix(end, 16).ok()?;
    (start < end && end <= USER_VA_LIMIT).then(|| Region {
        range: start..end,
        readable: perms.starts_with('r'),
    })
}

/// Calls `visit` with every region read from `source` until it breaks;
/// allocation-free.
pub fn scan(
    mut source: impl Read,
    mut visit: impl FnMut(&Region) -> ControlFlow<()>,
) -> std::io::Result<()> {
    let mut chunk = [0u8; 4096];
    let mut prefix = [0u8; PREFIX];
    let mut len = 0;
    loop {
        let n = source.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        for &byte in &chunk[..n] {
            if byte != b'\n' {
                if len < PREFIX {
                    prefix[len] = byte;
                    len += 1;
                }
                continue;
            }
            let region = parse_line(&prefix[..len]);
            len = 0;
            if let Some(region) = region
                && visit(&region).is_break()
            {
                return Ok(());
            }
        }
    }
}

/// Calls `visit` with every region of this process; allocation-free.
pub fn for_each_region(visit: impl FnMut(&Region) -> ControlFlow<()>) -> std::io::Result<()> {
    scan(std::fs::File::open("/proc/self/maps")?, visit)
}

/// The readable region of this process containing `address`, if any.
pub fn readable_region_at(address: u64) -> std::io::Result<Option<Region>> {
    let mut found = None;
    for_each_region(|r| {
        if r.readable && r.range.contains(&address) {
            found = Some(r.clone());
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })?;
    Ok(found)
}

/// What to map so that the guest reaches `address` in `region`: all of it,
/// or only the 2 MiB chunk of `address` for a region over the limit.
pub fn range_to_map(region: &Region, address: u64) -> Range<u64> {
    if region.range.end - region.range.start <= WHOLE_REGION_LIMIT {
        region.range.clone()
    } else {
        let chunk = address - address % LARGE_PAGE;
        chunk..chunk + LARGE_PAGE
    }
}

/// Whether the initial scan maps `region` (readable and not huge).
pub fn mapped_up_front(region: &Region) -> bool {
    region.readable && region.range.end - region.range.start <= WHOLE_REGION_LIMIT
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
55d0c0000000-55d0c0010000 r--p 00000000 fd:01 123 /usr/bin/zygos
55d0c0010000-55d0c0250000 r-xp 00010000 fd:01 123 /a/very/long/path/that/goes/on/and/on/beyond/the/sixty/four/byte/prefix/kept
7f0000000000-7f0004000000 ---p 00000000 00:00 0
garbage line
7f1000000000-7f1100000000 rw-p 00000000 00:00 0
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]
";

    /// A reader returning at most `step` bytes per call, to cross line
    /// boundaries at every position.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn regions(step: usize) -> Vec<Region> {
        let mut out = Vec::new();
        scan(
            Trickle {
                data: SAMPLE.as_bytes(),
                step,
            },
            |r| {
                out.push(r.clone());
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        out
    }

    #[test]
    fn streams_lines_whatever_the_read_size() {
        let expected = regions(4096);
        assert_eq!(expected.len(), 4, "garbage and [vsyscall] skipped");
        assert_eq!(
            expected[0],
            Region {
                range: 0x55d0_c000_0000..0x55d0_c001_0000,
                readable: true
            }
        );
        assert!(!expected[2].readable);
        for step in [1, 2, 7, 63, 64, 65] {
            assert_eq!(regions(step), expected, "read size {step}");
        }
    }

    #[test]
    fn scan_stops_when_told() {
        let mut seen = 0;
        scan(SAMPLE.as_bytes(), |_| {
            seen += 1;
            ControlFlow::Break(())
        })
        .unwrap();
        assert_eq!(seen, 1);
    }

    #[test]
    fn huge_regions_map_one_chunk_on_fault() {
        let huge = Region {
            range: 0x7f10_0000_0000..0x7f11_0000_0000,
            readable: true,
        };
        assert_eq!(
            range_to_map(&huge, 0x7f10_0030_0010),
            0x7f10_0020_0000..0x7f10_0040_0000
        );
        assert!(!mapped_up_front(&huge));
        let small = Region {
            range: 0x1000..0x3000,
            readable: true,
        };
        assert_eq!(range_to_map(&small, 0x2000), 0x1000..0x3000);
        assert!(mapped_up_front(&small));
        assert!(!mapped_up_front(&Region {
            readable: false,
            ..small
        }));
    }

    #[test]
    fn finds_this_process_stack() {
        let local = 0u8;
        let address = &local as *const u8 as u64;
        let region = readable_region_at(address)
            .unwrap()
            .expect("the stack is mapped");
        assert!(region.range.contains(&address));
        assert_eq!(readable_region_at(0x10).unwrap(), None);
    }
}
