//! Errors a pool user can see.

use std::any::Any;
use std::fmt;

/// Why a [`ThreadPool`](crate::ThreadPool) could not be built.
///
/// ```
/// let error = pool::ThreadPool::new(0).unwrap_err();
/// assert!(matches!(error, pool::BuildError::ZeroWorkers));
/// assert!(error.to_string().contains("at least one worker"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// A pool needs at least one worker; zero was asked for.
    ZeroWorkers,
    /// More workers were asked for than [`MAX_WORKERS`](crate::MAX_WORKERS).
    TooManyWorkers {
        /// The number asked for.
        requested: usize,
    },
    /// The name given to a worker by
    /// [`Builder::thread_name`](crate::Builder::thread_name) holds a NUL
    /// byte, which no thread name may hold.
    ThreadName {
        /// The worker's index.
        worker: usize,
        /// The name given.
        name: String,
    },
    /// The operating system refused to start a worker thread.
    Spawn(std::io::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroWorkers => {
                write!(f, "a thread pool needs at least one worker, but 0 workers were requested")
            }
            BuildError::TooManyWorkers { requested } => {
                write!(f, "a thread pool has at most {} workers, but {requested} were requested", crate::MAX_WORKERS)
            }
            BuildError::ThreadName { worker, name } => {
                write!(f, "the name of worker {worker}, {name:?}, holds a NUL byte, which no thread name may hold")
            }
            BuildError::Spawn(e) => write!(f, "could not start a worker thread: {e}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Spawn(e) => Some(e),
            BuildError::ZeroWorkers | BuildError::TooManyWorkers { .. } | BuildError::ThreadName { .. } => None,
        }
    }
}

/// A caught panic: the original payload, as `std::thread::JoinHandle::join`
/// returns it, plus its message for display.
///
/// ```
/// let pool = pool::ThreadPool::new(1).unwrap();
/// let error = pool.submit(|| std::panic::panic_any(7i32)).wait().unwrap_err();
/// let panic = error.into_panic().unwrap();
/// assert_eq!(panic.downcast_ref::<i32>(), Some(&7));
/// assert_eq!(panic.message(), "non-string panic payload");
/// ```
pub struct Panic {
    message: String,
    payload: Box<dyn Any + Send>,
}

impl Panic {
    pub(crate) fn new(payload: Box<dyn Any + Send>) -> Panic {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "non-string panic payload".to_string()
        };
        Panic { message, payload }
    }

    /// The panic's message: the `&str` or `String` it was raised with, or
    /// `"non-string panic payload"` for any other payload.
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(1).unwrap();
    /// let panic = pool.submit(|| panic!("at {}", 3)).wait().unwrap_err().into_panic().unwrap();
    /// assert_eq!(panic.message(), "at 3");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The payload, if it is a `P` (as with `Box<dyn Any>::downcast_ref`).
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(1).unwrap();
    /// let panic = pool.submit(|| std::panic::panic_any(1.5f64)).wait().unwrap_err().into_panic().unwrap();
    /// assert_eq!(panic.downcast_ref::<f64>(), Some(&1.5));
    /// ```
    pub fn downcast_ref<P: Any>(&self) -> Option<&P> {
        self.payload.downcast_ref()
    }

    /// The original payload, to inspect or to re-raise with
    /// [`std::panic::resume_unwind`].
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(1).unwrap();
    /// let panic = pool.submit(|| std::panic::panic_any('x')).wait().unwrap_err().into_panic().unwrap();
    /// assert_eq!(*panic.into_payload().downcast::<char>().unwrap(), 'x');
    /// ```
    pub fn into_payload(self) -> Box<dyn Any + Send> {
        self.payload
    }

    /// Re-raises the panic on this thread with its original payload.
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(1).unwrap();
    /// let panic = pool.submit(|| std::panic::panic_any(9u8)).wait().unwrap_err().into_panic().unwrap();
    /// let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || panic.resume())).unwrap_err();
    /// assert_eq!(again.downcast_ref::<u8>(), Some(&9));
    /// ```
    pub fn resume(self) -> ! {
        std::panic::resume_unwind(self.payload)
    }

    /// A copy for the other items of a chunk that failed as a whole: the
    /// same message, its payload a `String` (the original is not `Clone`).
    pub(crate) fn copy_message(&self) -> Panic {
        Panic { message: self.message.clone(), payload: Box::new(self.message.clone()) }
    }
}

impl fmt::Debug for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Panic").field(&self.message).finish()
    }
}

impl fmt::Display for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why a task produced no value.
///
/// Two errors compare equal when they are of the same kind and, for
/// panics, carry the same message (payloads cannot be compared).
///
/// ```
/// use pool::TaskError;
/// let pool = pool::ThreadPool::new(1).unwrap();
/// match pool.submit(|| -> u8 { panic!("no") }).wait() {
///     Err(TaskError::Panicked(panic)) => assert_eq!(panic.message(), "no"),
///     other => unreachable!("{other:?}"),
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked; the worker that ran it survived. The [`Panic`]
    /// keeps the original payload for `downcast_ref` or `resume_unwind`.
    Panicked(Panic),
    /// The task never started because the pool was shut down with
    /// [`ThreadPool::shutdown_now`](crate::ThreadPool::shutdown_now) or the
    /// map that owned it was dropped.
    Cancelled,
}

impl TaskError {
    pub(crate) fn from_panic(payload: Box<dyn Any + Send>) -> TaskError {
        TaskError::Panicked(Panic::new(payload))
    }

    /// True when the task panicked.
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(1).unwrap();
    /// assert!(pool.submit(|| panic!("boom")).wait().unwrap_err().is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }

    /// The panic's message, when the task panicked.
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(1).unwrap();
    /// let error = pool.submit(|| panic!("boom {}", 1)).wait().unwrap_err();
    /// assert_eq!(error.panic_message(), Some("boom 1"));
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            TaskError::Panicked(panic) => Some(panic.message()),
            TaskError::Cancelled => None,
        }
    }

    /// The [`Panic`], with its original payload, when the task panicked.
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(1).unwrap();
    /// let error = pool.submit(|| std::panic::panic_any(3u8)).wait().unwrap_err();
    /// assert_eq!(error.into_panic().unwrap().downcast_ref::<u8>(), Some(&3));
    /// ```
    pub fn into_panic(self) -> Option<Panic> {
        match self {
            TaskError::Panicked(panic) => Some(panic),
            TaskError::Cancelled => None,
        }
    }

    /// Re-raises this error as a panic on the current thread: a task's
    /// panic with its original payload (so `map` behaves as a sequential
    /// loop would), a cancellation as a new panic.
    pub(crate) fn resume(self) -> ! {
        match self {
            TaskError::Panicked(panic) => panic.resume(),
            TaskError::Cancelled => panic!("task was cancelled before it ran"),
        }
    }

    /// A copy for the other items of a chunk that failed as a whole.
    pub(crate) fn copy(&self) -> TaskError {
        match self {
            TaskError::Panicked(panic) => TaskError::Panicked(panic.copy_message()),
            TaskError::Cancelled => TaskError::Cancelled,
        }
    }
}

impl PartialEq for TaskError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (TaskError::Panicked(a), TaskError::Panicked(b)) => a.message == b.message,
            (TaskError::Cancelled, TaskError::Cancelled) => true,
            _ => false,
        }
    }
}

impl Eq for TaskError {}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(panic) => write!(f, "task panicked: {}", panic.message),
            TaskError::Cancelled => write!(f, "task was cancelled before it ran"),
        }
    }
}

impl std::error::Error for TaskError {}
