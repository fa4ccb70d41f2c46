// The transfer saga: compliance check, debit, credit, notification. A failure after the debit
// gives the money back (the debit's compensation); a failure before it leaves nothing to undo.
import { defineSaga } from "../../dist/index.js";
import { Announce, CheckCompliance, Credit, Debit, ReverseDebit, StartTransfer } from "./contracts.js";

export interface TransferState {
  transferId: string;
  from: string;
  to: string;
  amount: number;
  approvedBy?: string;
  debitPosting?: number;
  creditPosting?: number;
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
    result: (s, r) => ({ ...s, debitPosting: r.posting }),
  })
  .compensate("debit", {
    send: ReverseDebit,
    payload: (s) => ({ transferId: s.transferId, account: s.from, amount: s.amount }),
  })
  .step("credit", {
    send: Credit,
    payload: (s) => ({ transferId: s.transferId, account: s.to, amount: s.amount }),
    result: (s, r) => ({ ...s, creditPosting: r.posting }),
  })
  .step("notify", {
    send: Announce,
    payload: ({ transferId, from, to, amount }) => ({ transferId, from, to, amount }),
  });
