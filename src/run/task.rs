//! Tasks a run spawns (uploads, the lease's renewals) end with the run: dropping the run's
//! future aborts them, so nothing goes on detached.

use tokio::task::JoinHandle;

/// A spawned task, aborted when this is dropped.
#[derive(Debug)]
pub(crate) struct AbortOnDrop<T = ()>(pub(crate) JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    /// Waits for the task's end.
    pub(crate) async fn join(&mut self) -> Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
