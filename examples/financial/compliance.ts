// The compliance service: an anti-money-laundering check by request/reply. Rejects transfers
// above the limit and any touching a sanctioned account (COMPLIANCE_REJECTED, a code the saga
// sees); takes its time over large amounts. Started by main.ts; prints "ready".
import { CatgaError, createCatga } from "../../dist/index.js";
import { FLAGGED, LIMIT_CENTS, REVIEW_CENTS } from "./accounts.js";
import { CheckCompliance } from "./contracts.js";
import { connect, logger, serve } from "./service.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const transport = await connect("compliance");

const compliance = createCatga({ logger, transport })
  // A check sent again (a saga step resent after a crash: same message id) gets the same verdict.
  .withIdempotency()
  .handle(CheckCompliance, async ({ from, to, amount }) => {
    // Large amounts go through enhanced due diligence: slow, but the saga just waits for it.
    await sleep(amount > REVIEW_CENTS ? 200 + Math.random() * 200 : Math.random() * 10);
    if (amount > LIMIT_CENTS)
      throw new CatgaError("COMPLIANCE_REJECTED", `amount ${amount} above the limit of ${LIMIT_CENTS}`);
    if (from === FLAGGED || to === FLAGGED)
      throw new CatgaError("COMPLIANCE_REJECTED", `${from === FLAGGED ? from : to} is on the sanctions list`);
    return { approvedBy: `aml-${process.pid}` };
  })
  .build();

await transport.ready();
serve(() => compliance.close());
