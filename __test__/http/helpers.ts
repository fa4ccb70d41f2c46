import Fastify, { type FastifyInstance } from "fastify";
import { z } from "zod";
import { type CatgaFastifyOptions, catgaFastify } from "../../ts/entries/fastify.js";
import { defineCommand, defineQuery } from "../../ts/index.js";

export const PlaceOrder = defineCommand(
  "orders.place",
  z.object({ sku: z.string().min(1), qty: z.number().int().positive() }),
).returns<{ orderId: string }>();
export const GetStock = defineQuery("stock.get").payload<{ sku: string }>().returns<{ left: number }>();

/** A W3C traceparent a parser accepts (sampled). */
export const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/** Fastify with the plugin; its error/warn log lines are collected in `logs`. */
export async function app(options: CatgaFastifyOptions): Promise<{ app: FastifyInstance; logs: string[] }> {
  const logs: string[] = [];
  const instance = Fastify({
    logger: { level: "warn", stream: { write: (line: string) => void logs.push(line) } },
  });
  await instance.register(catgaFastify, options);
  return { app: instance, logs };
}
