//! The simulated Statuspage: feeds (`/history.atom`, `/history.rss`) and the JSON summary
//! (`/api/v2/summary.json`) whose incidents can be driven through their lifecycle.
//!
//! (Foundation stub: the status-page issue fills it in.)

use axum::Router;

/// The status page's routes, merged into the simulator's router.
pub fn router() -> Router {
    Router::new()
}
