// The transfer saga: compliance check, debit, credit, notification. A failure after the debit
// gives the money back (the debit's compensation); a failure before it leaves nothing to undo.
import { CatgaError, defineSaga } from "../../dist/index.js";
import {
  Announce,
  CheckCompliance,
  Credit,
  Debit,
  type Posted,
  ReverseDebit,
  StartTransfer,
} from "./contracts.js";

export interface TransferState {
  transferId: string;
  from: string;
  to: string;
  amount: number;
  approvedBy?: string;
  debitPosting?: number;
  creditPosting?: number;
}

/**
 * The ledger answers a final refusal as a value (see {@link Posted}); here it becomes the step's
 * failure, so the saga compensates. A step whose `result` throws counts as one whose effect may
 * have happened, so the debit's compensation runs even for a refused debit: the ledger then finds
 * nothing to give back and voids the transfer.
 */
function posting(outcome: Posted): number {
  if ("refused" in outcome)
    throw new CatgaError(`LEDGER_${outcome.refused}`, `the ledger refused: ${outcome.refused}`);
  return outcome.posting;
}

export const TransferSaga = defineSaga<TransferState>("transfer")
  .startedBy(StartTransfer, {
    id: (transfer) => transfer.transferId,
    init: ({ transferId, from, to, amount }) => ({ transferId, from, to, amount }),
  })
  .step("compliance", {
    send: CheckCompliance,
    payload: ({ transferId, from, to, amount }) => ({ transferId, from, to, amount }),
    result: (s, r) => ({ ...s, approvedBy: r.approvedBy }),
  })
  .step("debit", {
    send: Debit,
    payload: (s) => ({ transferId: s.transferId, account: s.from, amount: s.amount }),
    result: (s, r) => ({ ...s, debitPosting: posting(r) }),
  })
  .compensate("debit", {
    send: ReverseDebit,
    payload: (s) => ({ transferId: s.transferId, account: s.from, amount: s.amount }),
  })
  .step("credit", {
    send: Credit,
    payload: (s) => ({ transferId: s.transferId, account: s.to, amount: s.amount }),
    result: (s, r) => ({ ...s, creditPosting: posting(r) }),
  })
  .step("notify", {
    send: Announce,
    payload: ({ transferId, from, to, amount }) => ({ transferId, from, to, amount }),
  });
