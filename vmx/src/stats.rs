//! Per-vCPU counters from KVM's binary statistics interface
//! (`KVM_GET_STATS_FD`, Linux Documentation/virt/kvm/api.rst §4.133): a
//! header, descriptors naming each counter, and a data block re-read with
//! `pread` for every snapshot.

use crate::error::VmError;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::FileExt;

/// `_IO(KVMIO, 0xce)`.
const KVM_GET_STATS_FD: libc::c_ulong = 0xAECE;
const HEADER_LEN: usize = 24;
const DESCRIPTOR_FIXED_LEN: usize = 16;

/// One scalar counter: its name and where its value sits in the data block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// KVM's name for it (e.g. "exits", "io_exits", "halt_exits").
    pub name: String,
    /// Byte offset of the value from the start of the data block.
    pub offset: u64,
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

/// The layout read from the header: (name size, number of descriptors,
/// descriptor offset, data offset).
pub fn parse_header(bytes: &[u8]) -> Option<(usize, usize, u64, u64)> {
    Some((
        u32_at(bytes, 4)? as usize,
        u32_at(bytes, 8)? as usize,
        u64::from(u32_at(bytes, 16)?),
        u64::from(u32_at(bytes, 20)?),
    ))
}

/// The scalar (size 1) counters among `count` descriptors in `bytes`;
/// histograms are skipped. `None` if the block is truncated.
pub fn parse_descriptors(bytes: &[u8], name_size: usize, count: usize) -> Option<Vec<Descriptor>> {
    let stride = DESCRIPTOR_FIXED_LEN + name_size;
    let mut out = Vec::new();
    for i in 0..count {
        let d = bytes.get(i * stride..(i + 1) * stride)?;
        let size = u16_at(d, 6)?;
        let offset = u64::from(u32_at(d, 8)?);
        let name = &d[DESCRIPTOR_FIXED_LEN..];
        let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        if size == 1 {
            out.push(Descriptor {
                name: String::from_utf8_lossy(&name[..len]).into_owned(),
                offset,
            });
        }
    }
    Some(out)
}

/// The statistics file of one vCPU.
#[derive(Debug)]
pub struct KvmStats {
    file: File,
    descriptors: Vec<Descriptor>,
    data_offset: u64,
}

/// Counter values at one instant, in descriptor order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvmStatsSnapshot {
    /// (name, value) of every scalar counter.
    pub values: Vec<(String, u64)>,
}

impl KvmStatsSnapshot {
    /// Value of the counter called `name`.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.values.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
    }

    /// Per-counter difference `self - earlier` (wrapping, counters only grow).
    pub fn since(&self, earlier: &Self) -> Self {
        let values = self
            .values
            .iter()
            .map(|(n, v)| (n.clone(), v.wrapping_sub(earlier.get(n).unwrap_or(0))))
            .collect();
        Self { values }
    }
}

impl KvmStats {
    /// Opens the statistics of the vCPU whose fd is `vcpu`.
    pub fn open(vcpu: &impl AsRawFd) -> Result<Self, VmError> {
        // SAFETY: KVM_GET_STATS_FD takes no argument and returns a new fd or -1.
        let fd = unsafe { libc::ioctl(vcpu.as_raw_fd(), KVM_GET_STATS_FD) };
        if fd < 0 {
            return Err(VmError::Kvm("KVM_GET_STATS_FD", kvm_ioctls::Error::last()));
        }
        // SAFETY: fd is a fresh descriptor that we now own.
        let file = unsafe { File::from_raw_fd(fd) };
        let mut header = [0u8; HEADER_LEN];
        file.read_exact_at(&mut header, 0)
            .map_err(VmError::HostMemory)?;
        let malformed = VmError::Layout("malformed KVM stats header");
        let (name_size, count, desc_offset, data_offset) =
            parse_header(&header).ok_or(malformed)?;
        let mut block = vec![0u8; (DESCRIPTOR_FIXED_LEN + name_size) * count];
        file.read_exact_at(&mut block, desc_offset)
            .map_err(VmError::HostMemory)?;
        let descriptors = parse_descriptors(&block, name_size, count)
            .ok_or(VmError::Layout("malformed KVM stats descriptors"))?;
        Ok(Self {
            file,
            descriptors,
            data_offset,
        })
    }

    /// Reads every scalar counter now.
    pub fn snapshot(&self) -> Result<KvmStatsSnapshot, VmError> {
        let mut values = Vec::with_capacity(self.descriptors.len());
        for d in &self.descriptors {
            let mut v = [0u8; 8];
            self.file
                .read_exact_at(&mut v, self.data_offset + d.offset)
                .map_err(VmError::HostMemory)?;
            values.push((d.name.clone(), u64::from_le_bytes(v)));
        }
        Ok(KvmStatsSnapshot { values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(size: u16, offset: u32, name: &str, name_size: usize) -> Vec<u8> {
        let mut d = vec![0u8; DESCRIPTOR_FIXED_LEN + name_size];
        d[6..8].copy_from_slice(&size.to_le_bytes());
        d[8..12].copy_from_slice(&offset.to_le_bytes());
        d[DESCRIPTOR_FIXED_LEN..DESCRIPTOR_FIXED_LEN + name.len()].copy_from_slice(name.as_bytes());
        d
    }

    #[test]
    fn parses_scalar_descriptors_and_skips_histograms() {
        let mut block = descriptor(1, 0, "exits", 48);
        block.extend(descriptor(32, 8, "halt_poll_hist", 48));
        block.extend(descriptor(1, 264, "io_exits", 48));
        let parsed = parse_descriptors(&block, 48, 3).unwrap();
        assert_eq!(
            parsed,
            vec![
                Descriptor {
                    name: "exits".into(),
                    offset: 0
                },
                Descriptor {
                    name: "io_exits".into(),
                    offset: 264
                }
            ]
        );
        assert_eq!(parse_descriptors(&block, 48, 4), None, "truncated block");
    }

    #[test]
    fn snapshot_difference() {
        let a = KvmStatsSnapshot {
            values: vec![("exits".into(), 10), ("io_exits".into(), 3)],
        };
        let b = KvmStatsSnapshot {
            values: vec![("exits".into(), 25), ("io_exits".into(), 4)],
        };
        let d = b.since(&a);
        assert_eq!(d.get("exits"), Some(15));
        assert_eq!(d.get("io_exits"), Some(1));
        assert_eq!(d.get("nope"), None);
    }
}
