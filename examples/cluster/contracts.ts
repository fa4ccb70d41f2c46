// The one message of the cluster example: a deposit to an account, sharded by account.
import { defineCommand } from "../../dist/index.js";

/** Adds `amount` to `account`; answered by the instance that owns the account right now. */
export const Deposit = defineCommand("accounts.deposit")
  .payload<{ account: string; amount: number }>()
  .returns<{ servedBy: string }>();
