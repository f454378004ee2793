/** The registry's and the read model's answers the intake form shows (from the API's schema). */
import type { components } from "@/api/schema";

export type Place = components["schemas"]["Place"];
export type SimilarCase = components["schemas"]["SimilarCase"];
export type { CategoryItem } from "./catalogue";
