/** A setting of the observer that is missing or wrong, naming its variable */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(message: string, readonly variable: string, readonly value: string | undefined) {
    super(message);
  }
}
