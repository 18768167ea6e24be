//! Errors a pool user can see.

use std::any::Any;
use std::fmt;

/// Why a [`ThreadPool`](crate::ThreadPool) could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// A pool needs at least one worker; zero was asked for.
    ZeroWorkers,
    /// The operating system refused to start a worker thread.
    Spawn(std::io::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroWorkers => {
                write!(f, "a thread pool needs at least one worker, but 0 workers were requested")
            }
            BuildError::Spawn(e) => write!(f, "could not start a worker thread: {e}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Spawn(e) => Some(e),
            BuildError::ZeroWorkers => None,
        }
    }
}

/// Why a task produced no value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked; the panic's message (or a placeholder when the
    /// payload was not a string). The worker that ran it survived.
    Panicked(String),
    /// The task never started because the pool was shut down with
    /// [`ThreadPool::shutdown_now`](crate::ThreadPool::shutdown_now) or the
    /// map that owned it was dropped.
    Cancelled,
}

impl TaskError {
    pub(crate) fn from_panic(payload: Box<dyn Any + Send>) -> TaskError {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "<non-string panic payload>".to_string()
        };
        TaskError::Panicked(message)
    }

    /// True when the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }

    /// Re-raises this error as a panic on the current thread, keeping the
    /// original message, so `map` behaves like a sequential loop would.
    pub(crate) fn resume(self) -> ! {
        match self {
            TaskError::Panicked(message) => std::panic::resume_unwind(Box::new(message)),
            TaskError::Cancelled => panic!("task was cancelled before it ran"),
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(message) => write!(f, "task panicked: {message}"),
            TaskError::Cancelled => write!(f, "task was cancelled before it ran"),
        }
    }
}

impl std::error::Error for TaskError {}
