//! Forwarding of the guest's system calls to the host.
//!
//! libstd and libc in the guest execute `syscall` at CPL3; EFER.SCE and
//! IA32_LSTAR send it, through the sandbox-call gate of [`crate::stubs`],
//! to a CPL0 `out` that makes an exit. The run loop then performs the call
//! on the host thread that runs the vCPU, with the guest's registers, and
//! returns RAX to the guest. Memory arguments need no copying:
//! guest-virtual = host-virtual.
//!
//! Calls that would make the host thread leave the run loop or that
//! change state the guest does not share are refused (see [`policy`]).

/// The Linux x86-64 system-call arguments (RAX, RDI, RSI, RDX, R10, R8, R9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallArgs {
    /// System-call number.
    pub nr: u64,
    /// Arguments 1 to 6.
    pub args: [u64; 6],
}

/// What to do with a guest system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Run it on the host thread.
    Forward,
    /// Fail it with `-errno` without running it.
    Refuse(i32),
    /// `arch_prctl(ARCH_GET_FS)`: answer with the guest's FS base.
    GetFsBase,
}

const ARCH_GET_FS: u64 = 0x1003;

/// Decides how a guest system call is handled. Thread and process creation,
/// `execve`, signal return and thread exit would run host code outside the
/// run loop, and `arch_prctl` writes state the guest keeps in its own
/// registers: these are refused (EPERM), except reading the FS base.
pub fn policy(call: &SyscallArgs) -> Disposition {
    let Ok(nr) = libc::c_long::try_from(call.nr) else {
        return Disposition::Refuse(libc::ENOSYS);
    };
    match nr {
        libc::SYS_clone
        | libc::SYS_clone3
        | libc::SYS_fork
        | libc::SYS_vfork
        | libc::SYS_execve
        | libc::SYS_execveat
        | libc::SYS_rt_sigreturn
        | libc::SYS_exit => Disposition::Refuse(libc::EPERM),
        libc::SYS_arch_prctl if call.args[0] == ARCH_GET_FS => Disposition::GetFsBase,
        libc::SYS_arch_prctl => Disposition::Refuse(libc::EPERM),
        _ => Disposition::Forward,
    }
}

/// Performs a system call on the host and returns the raw kernel result
/// (a negative errno on failure), as the guest's `syscall` instruction would.
///
/// # Safety
/// The call runs with the guest's arguments in this process: pointers in
/// them are dereferenced by the kernel exactly as if the guest code had
/// made the call itself, which is what the guest's memory model promises
/// (guest-virtual = host-virtual). `policy` must have returned `Forward`.
pub unsafe fn host_syscall(call: &SyscallArgs) -> u64 {
    let ret: u64;
    let [a1, a2, a3, a4, a5, a6] = call.args;
    // SAFETY: the caller vouches for the call (see `# Safety`); the
    // registers clobbered by `syscall` (RCX, R11) are declared.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") call.nr => ret,
            in("rdi") a1,
            in("rsi") a2,
            in("rdx") a3,
            in("r10") a4,
            in("r8") a5,
            in("r9") a6,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    ret
}

/// The result a refused call returns to the guest: `-errno`.
pub fn refused(errno: i32) -> u64 {
    (-i64::from(errno)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(nr: libc::c_long, a0: u64) -> SyscallArgs {
        SyscallArgs {
            nr: nr as u64,
            args: [a0, 0, 0, 0, 0, 0],
        }
    }

    #[test]
    fn refuses_calls_that_leave_the_run_loop() {
        assert_eq!(
            policy(&call(libc::SYS_clone, 0)),
            Disposition::Refuse(libc::EPERM)
        );
        assert_eq!(
            policy(&call(libc::SYS_exit, 0)),
            Disposition::Refuse(libc::EPERM)
        );
        assert_eq!(
            policy(&call(libc::SYS_arch_prctl, 0x1002)),
            Disposition::Refuse(libc::EPERM)
        );
        assert_eq!(
            policy(&call(libc::SYS_arch_prctl, ARCH_GET_FS)),
            Disposition::GetFsBase
        );
        assert_eq!(policy(&call(libc::SYS_write, 1)), Disposition::Forward);
        assert_eq!(
            policy(&SyscallArgs {
                nr: u64::MAX,
                args: [0; 6]
            }),
            Disposition::Refuse(libc::ENOSYS)
        );
    }

    #[test]
    fn host_syscall_returns_raw_errno() {
        // SAFETY: getpid and a close of an invalid fd touch no memory.
        let pid = unsafe { host_syscall(&call(libc::SYS_getpid, 0)) };
        assert_eq!(pid, u64::from(std::process::id()));
        // SAFETY: as above.
        let bad = unsafe { host_syscall(&call(libc::SYS_close, u64::MAX >> 33)) };
        assert_eq!(bad, refused(libc::EBADF));
    }
}
