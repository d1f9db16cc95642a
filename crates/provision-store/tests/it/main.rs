//! Integration tests of the store adapters: one contract suite (the `Store`, the `Outbox` and
//! `Tokens`) run against the in-memory reference fake and SQLite, SQLite-only properties, and
//! the engine over SQLite.

// Test code: clippy's allow-unwrap-in-tests does not reach the shared contract functions.
#![allow(clippy::unwrap_used)]

mod contract;
mod engine;
mod sqlite;
mod support;

/// Runs every contract test against each backend, one `#[tokio::test]` per pair, so a failure
/// names both the contract and the backend.
macro_rules! contract_tests {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::contract::$test(&crate::support::Backend::memory()).await;
                }
            )*
        }
        mod sqlite_contract {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::contract::$test(&crate::support::Backend::sqlite()).await;
                }
            )*
        }
    };
}

contract_tests!(
    a_new_run_is_pending_and_reserves_its_service,
    unknown_runs_and_services_are_absent,
    the_same_key_and_request_replay_the_run,
    the_same_key_with_another_request_is_refused,
    the_key_is_looked_up_before_the_service_name,
    a_taken_service_name_is_refused_and_nothing_is_recorded,
    runs_without_a_service_reserve_nothing,
    the_journal_follows_a_run_through_its_steps,
    starting_a_step_again_counts_an_attempt_and_keeps_its_history,
    journaling_for_a_missing_run_or_step_is_not_found,
    runs_are_listed_newest_first,
    unfinished_runs_are_listed_oldest_first,
    services_are_ordered_by_name_with_their_run_state,
    only_a_failed_run_is_reopened,
    a_claimed_run_cannot_be_claimed_again_until_released,
    a_second_handle_sees_the_same_data,
    concurrent_creations_of_one_service_yield_one_run,
    concurrent_creations_with_one_key_yield_one_run,
    an_upgraded_service_records_its_new_blueprint_version,
    a_forgotten_service_frees_its_name_and_its_keys,
    enqueueing_is_idempotent_by_key,
    a_message_round_trips_with_its_html_and_unicode,
    only_due_messages_are_claimed_earliest_first,
    a_leased_message_is_claimed_by_nobody_else_until_the_lease_expires,
    a_sent_message_is_never_claimed_again,
    a_failed_attempt_waits_for_its_retry_time,
    a_message_given_up_stays_failed,
    a_late_report_of_a_taken_over_attempt_changes_nothing,
    reports_about_unknown_messages_are_not_found,
    the_next_due_time_is_the_earliest_claimable_one,
    times_are_kept_to_the_microsecond,
    concurrent_claims_hand_out_each_message_once,
    a_token_is_found_by_its_hash,
    a_duplicate_id_or_hash_is_refused,
    only_a_sha256_in_lowercase_hex_is_stored,
    a_used_token_confirms_its_holder,
    a_revoked_token_is_kept_but_neither_live_nor_confirmed,
    changing_an_unknown_token_is_not_found,
    tokens_are_listed_per_address_oldest_first,
    token_times_are_kept_to_the_microsecond,
    concurrent_additions_of_one_hash_keep_one,
);
