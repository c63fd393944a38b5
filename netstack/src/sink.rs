//! Where outgoing frames go: the runtime implements [`FrameSink`] over a NIC
//! queue's transmit buffers; tests use [`VecSink`].

/// Destination of the frames the stack emits.
pub trait FrameSink {
    /// Builds one frame of `len` bytes in place with `fill`; returns false
    /// when the queue is full (the stack keeps the work pending for the next
    /// poll and does not call `fill`).
    fn send_frame(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool;
}

/// A [`FrameSink`] collecting frames in memory, optionally bounded.
#[derive(Debug, Default)]
pub struct VecSink {
    /// The frames written, oldest first.
    pub frames: Vec<Vec<u8>>,
    /// Refuse frames beyond this many queued (None: unbounded).
    pub limit: Option<usize>,
}

impl FrameSink for VecSink {
    fn send_frame(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        if self.limit.is_some_and(|limit| self.frames.len() >= limit) {
            return false;
        }
        let mut frame = vec![0u8; len];
        fill(&mut frame);
        self.frames.push(frame);
        true
    }
}
