// The messages the financial services exchange (in a real system: a contracts package every
// service depends on). Amounts are integer cents.
import { defineCommand, defineEvent, type SagaStarted } from "../../dist/index.js";

/** Starts a transfer saga; durable, so a start survives the death of the process that takes it. */
export const StartTransfer = defineCommand("transfers.start")
  .payload<{ transferId: string; from: string; to: string; amount: number }>()
  .returns<SagaStarted>()
  .durable();

/** Anti-money-laundering check, by request/reply: an approval, or the error COMPLIANCE_REJECTED. */
export const CheckCompliance = defineCommand("compliance.check")
  .payload<{ transferId: string; from: string; to: string; amount: number }>()
  .returns<{ approvedBy: string }>();

/**
 * What the ledger answers when it posted. A refusal that is the final answer (no funds, closed
 * account) is a returned `err("LEDGER_<reason>", …)`: acked at once, never retried, and recorded
 * by `exactlyOnce`, so a redelivery replays the refusal instead of deciding again.
 */
export type Posted = { readonly posting: number };

/** Moves `amount` from `account` into the clearing account. Durable, applied exactly once. */
export const Debit = defineCommand("ledger.debit")
  .payload<{ transferId: string; account: string; amount: number }>()
  .returns<Posted>()
  .durable();

/** Moves `amount` from the clearing account to `account`. Durable, applied exactly once. */
export const Credit = defineCommand("ledger.credit")
  .payload<{ transferId: string; account: string; amount: number }>()
  .returns<Posted>()
  .durable();

/**
 * The compensation of a debit: gives the money back to `account`, once per transfer. A debit that
 * never happened is voided instead, so that one still in flight is refused when it arrives.
 */
export const ReverseDebit = defineCommand("ledger.reverse-debit")
  .payload<{ transferId: string; account: string; amount: number }>()
  .returns<{ reversed: boolean }>()
  .durable();

/** The saga's last step: publishes {@link TransferCompleted} (handled in the transfers service). */
export const Announce = defineCommand("transfers.announce").payload<{
  transferId: string;
  from: string;
  to: string;
  amount: number;
}>();

/** Published on JetStream once a transfer completed; the notifications service records it. */
export const TransferCompleted = defineEvent("transfers.completed").payload<{
  transferId: string;
  from: string;
  to: string;
  amount: number;
}>();
