//! The host process's address space as `/proc/self/maps` reports it, and
//! the 2 MiB chunks of it the guest must map.

use crate::paging::USER_VA_LIMIT;
use crate::region::LARGE_PAGE;
use std::ops::Range;

/// Regions larger than this are mapped one 2 MiB chunk at a time, on fault,
/// so a huge `PROT_NONE`-then-grown reservation does not eat guest-physical
/// space.
pub const WHOLE_REGION_LIMIT: u64 = 1 << 30;

/// One line of `/proc/self/maps` that the guest may access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// Host-virtual addresses covered.
    pub range: Range<u64>,
    /// Whether the host mapping is readable (`r` permission).
    pub readable: bool,
}

/// Parses the text of `/proc/self/maps`; malformed lines and kernel
/// addresses (`[vsyscall]`) are skipped.
pub fn parse(text: &str) -> Vec<Region> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (start, end) = fields.next()?.split_once('-')?;
            let perms = fields.next()?;
            let start = u64::from_str_radix(start, 16).ok()?;
            let end = u64::from_str_radix(end, 16).ok()?;
            (start < end && end <= USER_VA_LIMIT).then(|| Region {
                range: start..end,
                readable: perms.starts_with('r'),
            })
        })
        .collect()
}

/// Reads and parses `/proc/self/maps`.
pub fn current() -> std::io::Result<Vec<Region>> {
    Ok(parse(&std::fs::read_to_string("/proc/self/maps")?))
}

/// The 2 MiB-aligned chunks (their first addresses) that cover the readable
/// regions of at most [`WHOLE_REGION_LIMIT`] bytes, sorted, deduplicated.
pub fn chunks_of(regions: &[Region]) -> Vec<u64> {
    let mut chunks: Vec<u64> = regions
        .iter()
        .filter(|r| r.readable && r.range.end - r.range.start <= WHOLE_REGION_LIMIT)
        .flat_map(|r| chunk_range(&r.range))
        .collect();
    chunks.sort_unstable();
    chunks.dedup();
    chunks
}

/// The 2 MiB chunks covering `range`.
pub fn chunk_range(range: &Range<u64>) -> impl Iterator<Item = u64> + use<> {
    let first = range.start / LARGE_PAGE;
    let last = range.end.div_ceil(LARGE_PAGE);
    (first..last).map(|c| c * LARGE_PAGE)
}

/// The chunks to map so that the guest can access `address`: the whole
/// readable region containing it (or only its chunk for a huge region),
/// `None` when no readable host mapping contains it.
pub fn chunks_for_fault(regions: &[Region], address: u64) -> Option<Vec<u64>> {
    let region = regions
        .iter()
        .find(|r| r.readable && r.range.contains(&address))?;
    if region.range.end - region.range.start <= WHOLE_REGION_LIMIT {
        Some(chunk_range(&region.range).collect())
    } else {
        Some(vec![address - address % LARGE_PAGE])
    }
}

/// Groups sorted chunks into runs of consecutive chunks (one memory slot each).
pub fn runs(chunks: &[u64]) -> Vec<Range<u64>> {
    let mut out: Vec<Range<u64>> = Vec::new();
    for &c in chunks {
        match out.last_mut() {
            Some(run) if run.end == c => run.end = c + LARGE_PAGE,
            _ => out.push(c..c + LARGE_PAGE),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
55d0c0000000-55d0c0010000 r--p 00000000 fd:01 123 /usr/bin/zygos
55d0c0010000-55d0c0250000 r-xp 00010000 fd:01 123 /usr/bin/zygos
7f0000000000-7f0004000000 ---p 00000000 00:00 0
7f1000000000-7f1100000000 rw-p 00000000 00:00 0
7ffd1c3e0000-7ffd1c401000 rw-p 00000000 00:00 0 [stack]
garbage line
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]
";

    #[test]
    fn parses_and_skips_kernel_and_garbage() {
        let regions = parse(SAMPLE);
        assert_eq!(regions.len(), 5);
        assert_eq!(regions[0].range, 0x55d0_c000_0000..0x55d0_c001_0000);
        assert!(regions[0].readable);
        assert!(!regions[2].readable);
    }

    #[test]
    fn chunks_cover_readable_regions_only() {
        let chunks = chunks_of(&parse(SAMPLE));
        // Executable: 0x55d0c0000000..0x55d0c0250000 -> chunks at +0 and +2 MiB.
        // Huge anonymous region (4 GiB): left for faults. Stack: one chunk.
        assert_eq!(
            chunks,
            vec![
                0x55d0_c000_0000,
                0x55d0_c020_0000,
                0x7ffd_1c20_0000,
                0x7ffd_1c40_0000
            ]
        );
        assert_eq!(
            runs(&chunks),
            vec![
                0x55d0_c000_0000..0x55d0_c040_0000,
                0x7ffd_1c20_0000..0x7ffd_1c60_0000
            ]
        );
    }

    #[test]
    fn fault_in_huge_region_maps_one_chunk() {
        let regions = parse(SAMPLE);
        assert_eq!(
            chunks_for_fault(&regions, 0x7f10_0030_0010),
            Some(vec![0x7f10_0020_0000])
        );
        assert_eq!(
            chunks_for_fault(&regions, 0x7f00_0000_1000),
            None,
            "PROT_NONE"
        );
        assert_eq!(chunks_for_fault(&regions, 0x10), None);
        assert_eq!(
            chunks_for_fault(&regions, 0x55d0_c000_0000).map(|c| c.len()),
            Some(1)
        );
    }
}
