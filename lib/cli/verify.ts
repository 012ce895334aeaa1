// `verify [--repair]`: waits for ImageCache.verify() (issue 3) to land on main.
import { type Context, EXIT_FAILED } from "./commands";

export async function verify(ctx: Context, _repair: boolean): Promise<number> {
  ctx.err("error: verify is not available in this build");
  return EXIT_FAILED;
}
